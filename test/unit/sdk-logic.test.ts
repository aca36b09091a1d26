// The SDK's pure logic: cache files, backoff, holder ids.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initialTable } from '../../src/routing/table.js';
import { readCacheFile, writeCacheFile } from '../../src/sdk/cache.js';
import { looksLikeTable } from '../../src/shared/gzs-protocol.js';
import { loadTopology } from '../../src/topology/index.js';
import { backoffDelay } from '../../src/util/backoff.js';

const dir = mkdtempSync(join(tmpdir(), 'ez-sdk-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const table = initialTable(loadTopology());

describe('reconnect backoff', () => {
  it('doubles its cap per round up to the maximum, with the jitter in the upper half', () => {
    expect(backoffDelay(0, {}, () => 0)).toBe(50);
    expect(backoffDelay(0, {}, () => 1)).toBe(100);
    expect(backoffDelay(3, {}, () => 0)).toBe(400);
    expect(backoffDelay(3, {}, () => 1)).toBe(800);
    expect(backoffDelay(20, {}, () => 1)).toBe(5000);
    expect(backoffDelay(1000, { initialMs: 10, maxMs: 300 }, () => 0)).toBe(150);
    // a thousand SDKs that lost the same GZS spread out over the upper half of the cap
    const draws = Array.from({ length: 1000 }, () => backoffDelay(4));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(800);
    expect(Math.max(...draws)).toBeLessThanOrEqual(1600);
    expect(new Set(draws).size).toBeGreaterThan(100);
  });
});

describe('cache file', () => {
  it('round-trips the newest table and leaves no temp file behind', async () => {
    const file = join(dir, 'a', 'cache.json');
    await writeCacheFile(file, { generation: 'g1', heardAt: 5, savedAt: 6, table: { ...table, epoch: 7 } });
    const r = readCacheFile(file);
    expect(r).toEqual({
      ok: true,
      cache: {
        format: 'ezctl-gzs-cache/1',
        generation: 'g1',
        heardAt: 5,
        savedAt: 6,
        table: { ...table, epoch: 7 },
      },
    });
    expect(readdirSync(join(dir, 'a'))).toEqual(['cache.json']);
  });

  it('reports a missing or damaged cache file without throwing', () => {
    expect(readCacheFile(join(dir, 'none.json'))).toMatchObject({ ok: false, missing: true });
    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      '{"format":"ezctl-gzs-cache/1","generation":"g","heardAt":1,"savedAt":1,"table":{"epoch":0}}',
    );
    const r = readCacheFile(bad);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problem).toMatch(/bad\.json: not an SDK cache file: table\.epoch/);
    writeFileSync(bad, '{"format"');
    expect(readCacheFile(bad)).toMatchObject({
      ok: false,
      missing: false,
      problem: expect.stringMatching(/not JSON/),
    });
  });
});

describe('pushed table shape check', () => {
  it('accepts a table and refuses what is not one', () => {
    expect(looksLikeTable(table)).toBe(true);
    expect(looksLikeTable({ ...table, epoch: 0 })).toBe(false);
    expect(looksLikeTable({ ...table, shards: null })).toBe(false);
    expect(looksLikeTable('table')).toBe(false);
    expect(looksLikeTable(null)).toBe(false);
  });
});
