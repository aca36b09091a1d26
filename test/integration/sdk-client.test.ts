/**
 * The SDK's RoutingClient against a real GZS process: push to many subscribers, the cache file,
 * routing on with GZS down (also after an SDK restart), catching up when GZS returns, never going
 * back to an older epoch. Needs the build (`npx tsc -p .`).
 */
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GzsApi } from '../../src/gzs/api.js';
import { type GzsProcess, startGzsProcess } from '../../src/gzs/testkit.js';
import { FenceIndex } from '../../src/routing/index.js';
import { readCacheFile } from '../../src/sdk/cache.js';
import { RoutingClient, type RoutingClientOptions } from '../../src/sdk/client.js';
import { loadTopology } from '../../src/topology/index.js';
import { tempDir } from '../helpers/run-dir.js';

const topology = loadTopology();
const fences = FenceIndex.build(topology.fences);
const BEIJING = 'geo=39.9042,116.4074';
let dir: string;
let gzs: GzsProcess;
let api: GzsApi;
const clients: RoutingClient[] = [];

async function client(o: Partial<RoutingClientOptions> = {}): Promise<RoutingClient> {
  const c = await RoutingClient.start({
    gzs: [gzs.url],
    fences,
    backoff: { initialMs: 50, maxMs: 400 },
    startTimeoutMs: 3000,
    ...o,
  });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  dir = tempDir('sdk-client');
  gzs = await startGzsProcess({ store: `file:${join(dir, 'table.json')}`, logFile: join(dir, 'gzs.log') });
  api = new GzsApi(gzs.url, { token: gzs.token });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await gzs?.stop();
});

describe('RoutingClient', () => {
  it('gets a change made through GZS to 200 subscribers, each holding the new epoch', async () => {
    const many = await Promise.all(Array.from({ length: 200 }, () => client()));
    const seen = new Map<RoutingClient, number>();
    for (const c of many) c.onTable((t) => seen.set(c, t.epoch));
    const r = await api.lock(1, { reason: 'push test' });
    const t0 = performance.now();
    const ok = await Promise.all(many.map((c) => c.waitForEpoch(r.epoch, 5000)));
    const ms = performance.now() - t0;
    expect(ok.every(Boolean)).toBe(true);
    expect(ms).toBeLessThan(2000);
    for (const c of many) {
      expect(seen.get(c)).toBe(r.epoch);
      expect(c.resolver.route('shard=1')).toMatchObject({
        zone: 'ez-sh',
        shardState: 'locked',
        epoch: r.epoch,
      });
    }
    await Promise.all(many.map((c) => c.close()));
    await api.unlock(1);
  });

  it('writes every new epoch to its cache file and exports its epoch and staleness', async () => {
    const registry = new Registry();
    const cacheFile = join(dir, 'a', 'cache.json');
    const a = await client({ cacheFile, registry });
    expect(a.source).toBe('gzs');
    const r = await api.setOwner(0, 'ez-sh');
    expect(await a.waitForEpoch(r.epoch, 2000)).toBe(true);
    await expect
      .poll(() => (readCacheFile(cacheFile) as any).cache?.table.epoch, { timeout: 2000 })
      .toBe(r.epoch);
    const text = await registry.metrics();
    expect(text).toMatch(new RegExp(`^ez_sdk_epoch ${r.epoch}$`, 'm'));
    expect(text).toMatch(/^ez_sdk_connected 1$/m);
    expect(Number(/^ez_sdk_stale_seconds (\S+)$/m.exec(text)?.[1])).toBeLessThan(2);
  });

  it('keeps routing with GZS down, also after an SDK restart (cache), and catches up when GZS returns', async () => {
    const cacheFile = join(dir, 'b', 'cache.json');
    const registry = new Registry();
    const a = await client({ cacheFile, registry });
    const moved = await api.setOwner(0, 'ez-bj'); // Beijing's shard
    await a.waitForEpoch(moved.epoch, 2000);
    await expect
      .poll(() => (readCacheFile(cacheFile) as any).cache?.table.epoch, { timeout: 2000 })
      .toBe(moved.epoch);

    await gzs.stop();
    await expect.poll(() => a.state, { timeout: 3000 }).not.toBe('connected');
    await new Promise((r) => setTimeout(r, 300));
    expect(a.resolver.route(BEIJING)).toMatchObject({ zone: 'ez-bj', epoch: moved.epoch });
    expect(a.staleMs()).toBeGreaterThanOrEqual(300);
    expect(await registry.metrics()).toMatch(/^ez_sdk_connected 0$/m);

    // a restarted process with GZS still down: starts from the cache file, at once
    const t0 = performance.now();
    const b = await client({ cacheFile, holder: { id: 'restarted', kind: 'test' } });
    expect(performance.now() - t0).toBeLessThan(2500);
    expect(b.source).toBe('cache');
    expect(b.epoch).toBe(moved.epoch);
    expect(b.resolver.route(BEIJING)).toMatchObject({ zone: 'ez-bj', epoch: moved.epoch });
    expect(b.staleMs()).toBeGreaterThanOrEqual(300); // as stale as the cache: not "fresh" because it was read

    // without a cache there is no table to serve: a clear error after the start timeout
    await expect(client({ startTimeoutMs: 800 })).rejects.toThrow(
      /^no routing table: no GZS answered at http:\/\/127\.0\.0\.1:\d+ within 800 ms \(last error: .*ECONNREFUSED\) and no cache file configured$/,
    );

    // GZS returns with the newest table and moves on: both catch up to the newest epoch
    await gzs.restart();
    const next = await api.lock(0, { reason: 'after restart' });
    expect(next.epoch).toBe(moved.epoch + 1);
    expect(await a.waitForEpoch(next.epoch, 5000)).toBe(true);
    expect(await b.waitForEpoch(next.epoch, 5000)).toBe(true);
    expect(b.source).toBe('gzs');
    expect(b.resolver.route(BEIJING)).toMatchObject({
      zone: 'ez-bj',
      shardState: 'locked',
      epoch: next.epoch,
    });
    await api.unlock(0);
  });

  it('never goes back to an older epoch, but follows a re-created store (another generation)', async () => {
    // an older copy of the store (same generation), then the main GZS moves on
    const oldDir = tempDir('sdk-old');
    const before = await api.lock(2);
    copyFileSync(join(dir, 'table.json'), join(oldDir, 'table.json'));
    const newest = await api.unlock(2);
    const cacheFile = join(dir, 'floor', 'cache.json');
    const holder = await client({ cacheFile });
    expect(holder.epoch).toBe(newest.epoch);
    await expect
      .poll(() => (readCacheFile(cacheFile) as any).cache?.table.epoch, { timeout: 2000 })
      .toBe(newest.epoch);
    await holder.close();

    const old = await startGzsProcess({
      store: `file:${join(oldDir, 'table.json')}`,
      logFile: join(oldDir, 'gzs.log'),
    });
    const fresh = await startGzsProcess({
      store: `file:${join(oldDir, 'fresh.json')}`,
      logFile: join(oldDir, 'fresh.log'),
    });
    try {
      // restarted while only the stale GZS answers: keeps the newer epoch of its cache
      const restarted = await client({ gzs: [old.url], cacheFile });
      expect(restarted.state).toBe('connected');
      expect(restarted.epoch).toBe(newest.epoch);
      expect(restarted.resolver.route('shard=2')).toMatchObject({
        shardState: 'serving',
        epoch: newest.epoch,
      });
      // without a cache it has nothing newer: it takes what that GZS serves
      expect((await client({ gzs: [old.url] })).epoch).toBe(before.epoch);
      // a re-created store (new generation, epoch 1) is followed despite the lower epoch
      const recreated = await client({ gzs: [fresh.url], cacheFile });
      expect(recreated.epoch).toBe(1);
      expect(recreated.generation).not.toBe(restarted.generation);
    } finally {
      await old.stop();
      await fresh.stop();
    }
  });

  it('follows failover between GZS URLs and refreshes on demand', async () => {
    const c = await client({ gzs: ['http://127.0.0.1:1', gzs.url] });
    expect(c.url).toBe(gzs.url);
    expect(await c.refresh()).toBe(false); // nothing newer
    const res = await request(`${gzs.url}/acks`);
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(existsSync(join(dir, 'table.json'))).toBe(true);
  });
});
