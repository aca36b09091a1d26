/** Atomic, durable file writes (temp file, fsync, rename, fsync of the directory): the SDK's cache, GZS's file store. */
import { mkdir, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Write `data` to `path` so that a crash leaves the old or the new content, never a mix. */
export async function writeFileDurably(path: string, data: string | Buffer): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  // the rename is durable only once the directory entry is
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
