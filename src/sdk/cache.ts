/**
 * The SDK's local cache file: the newest table it held, so a part keeps routing when no GZS is
 * reachable, also after a restart. Written atomically (temp file, fsync, rename, fsync of the
 * directory): a crash leaves the previous or the new table, never a torn file.
 */
import { readFileSync } from 'node:fs';
import { CACHE_FORMAT, type CacheFile, CacheFileSchema } from '../shared/gzs-protocol.js';
import { writeFileDurably } from '../util/durable-file.js';
import { summarizeIssues } from '../util/validation.js';

export { writeFileDurably } from '../util/durable-file.js';

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
