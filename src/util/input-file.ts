// Reads a user-named input file (topology, fences, SQL schema, drill) safely: regular files only,
// up to a size limit, never blocking on a FIFO or device, with one-line errors that name the file.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats, statSync } from 'node:fs';
import { UsageError } from './errors.js';
import { escapeInvisible } from './validation.js';

export interface InputFileOptions {
  /** what the file is, for messages: "topology file", "fences file" */
  what: string;
  /** refuse a file larger than this many bytes */
  maxBytes: number;
  /** how to name the file in messages (default: the path as given, invisible characters escaped) */
  display?: string;
  /** error code of the UsageError thrown (default EZ_BAD_INPUT) */
  code?: string;
}

/** A file that cannot be read as input. `reason` is the part after the file name, for callers that re-wrap. */
export class InputFileError extends UsageError {
  readonly file: string;
  readonly reason: string;
  constructor(file: string, display: string, what: string, reason: string, code: string) {
    super(`${display}: cannot read ${what} (${reason})`, code);
    this.name = 'InputFileError';
    this.file = file;
    this.reason = reason;
  }
}

/** `1 MiB`, `64 MiB`, `512 KiB`, `100 bytes`. */
export function formatBytes(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

const kindOf = (st: Stats): string =>
  st.isDirectory()
    ? 'a directory'
    : st.isFIFO()
      ? 'a FIFO (named pipe)'
      : st.isCharacterDevice()
        ? 'a character device'
        : st.isBlockDevice()
          ? 'a block device'
          : st.isSocket()
            ? 'a socket'
            : 'not a regular file';

const ERRNO: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOTDIR: 'a path component is not a directory',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'file name too long',
  EISDIR: 'a directory',
};

/**
 * The file's text (UTF-8, BOM dropped). Throws InputFileError when the path is not a regular file
 * (a FIFO would block, /dev/zero never ends), is larger than `maxBytes`, or is not UTF-8.
 */
export function readInputFile(path: string, opts: InputFileOptions): string {
  const display = opts.display ?? escapeInvisible(path);
  const fail = (reason: string): never => {
    throw new InputFileError(path, display, opts.what, reason, opts.code ?? 'EZ_BAD_INPUT');
  };
  const errno = (err: unknown): never => {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    return fail(ERRNO[code] ?? code);
  };
  const tooBig = (size?: number): string =>
    `over the size limit of ${formatBytes(opts.maxBytes)}${size === undefined ? '' : `: ${size} bytes`}`;

  // stat first: neither stat nor the refusal opens a FIFO or a device
  let st: Stats;
  try {
    st = statSync(path);
  } catch (err) {
    return errno(err);
  }
  if (!st.isFile()) fail(kindOf(st));
  if (st.size > opts.maxBytes) fail(tooBig(st.size));

  // O_NONBLOCK: if the path was swapped for a FIFO since the stat, open must not wait for a writer
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    return errno(err);
  }
  try {
    const fst = fstatSync(fd);
    if (!fst.isFile()) fail(kindOf(fst));
    // read at most maxBytes + 1: a file may grow after the stat, and /proc files report size 0
    const limit = opts.maxBytes + 1;
    const chunks: Buffer[] = [];
    let total = 0;
    let size = Math.max(fst.size + 1, 64 * 1024);
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(size, limit - total));
      if (chunk.length === 0) break;
      let filled = 0;
      for (let n = 1; n > 0 && filled < chunk.length; filled += n)
        n = readSync(fd, chunk, filled, chunk.length - filled, null);
      chunks.push(chunk.subarray(0, filled));
      total += filled;
      if (filled < chunk.length) break; // end of file
      size *= 2;
    }
    if (total > opts.maxBytes) fail(tooBig());
    return decodeUtf8(Buffer.concat(chunks), fail);
  } catch (err) {
    if (err instanceof InputFileError) throw err;
    return errno(err);
  } finally {
    closeSync(fd);
  }
}

function decodeUtf8(bytes: Buffer, fail: (reason: string) => never): string {
  try {
    // fatal: a binary file is refused rather than read as replacement characters
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return fail('not UTF-8 text');
  }
}
