/**
 * The SDK's local cache file: the newest table it held, so a part keeps routing when no GZS is
 * reachable, also after a restart. Written atomically (temp file, fsync, rename, fsync of the
 * directory): a crash leaves the previous or the new table, never a torn file.
 */
import { readFileSync } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CACHE_FORMAT, type CacheFile, CacheFileSchema } from '../shared/gzs-protocol.js';
import { summarizeIssues } from '../util/validation.js';

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

export type CacheRead = { ok: true; cache: CacheFile } | { ok: false; missing: boolean; problem: string };

/** Read and validate a cache file; a damaged one is reported, never thrown. */
export function readCacheFile(path: string): CacheRead {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    return {
      ok: false,
      missing,
      problem: missing ? `no cache file at ${path}` : `${path}: ${(err as Error).message}`,
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, missing: false, problem: `${path}: not JSON (${(err as Error).message})` };
  }
  const r = CacheFileSchema.safeParse(json);
  if (!r.success) {
    return {
      ok: false,
      missing: false,
      problem: `${path}: not an SDK cache file: ${summarizeIssues(r.error.issues)}`,
    };
  }
  return { ok: true, cache: r.data as CacheFile };
}

export function writeCacheFile(path: string, cache: Omit<CacheFile, 'format'>): Promise<void> {
  return writeFileDurably(path, JSON.stringify({ format: CACHE_FORMAT, ...cache }));
}
