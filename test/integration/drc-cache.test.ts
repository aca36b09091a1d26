/**
 * Cache invalidation: in ez-sh, readers hammer orders through the cache-aside-with-leases rule
 * (src/cache/cache-aside.ts) while orders change locally (ez-sh) and through DRC (from ez-bj).
 * The invalidator deletes each changed key and publishes the change on `ez:changes`. Proven:
 * no read that starts after a change's invalidation returns an older version; after drain every
 * cached entry equals its row; commit → invalidation is measured and reported.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheAside } from '../../src/cache/cache-aside.js';
import { compareVersions, nowUs, type Version } from '../../src/shared/row-version.js';
import { type DrcLab, quantile, startDrcLab } from '../helpers/drc.js';

interface OrderRow {
  id: string;
  state: string;
  version: number;
  updated_at: string;
  drc_origin: number;
}
const parseVersion = (s: string): Version => {
  const i = s.lastIndexOf('@');
  return { at: s.slice(0, i), origin: Number(s.slice(i + 1)) };
};
const vOf = (r: OrderRow): Version => ({ at: r.updated_at, origin: Number(r.drc_origin) });

describe('cache invalidation from the binlog', () => {
  let lab: DrcLab;
  const redisClients: Redis[] = [];
  const redisOf = (zone: string): Redis => {
    const r = new Redis({ host: '127.0.0.1', port: lab.zone(zone).redis!.port });
    redisClients.push(r);
    return r;
  };

  beforeAll(async () => {
    lab = await startDrcLab({ zones: 2, redis: true });
    await lab.startReplicator('ez-bj', 'ez-sh');
    await lab.startReplicator('ez-sh', 'ez-bj');
    await lab.startInvalidator('ez-bj');
    await lab.startInvalidator('ez-sh');
  });

  afterAll(async () => {
    for (const r of redisClients) r.disconnect();
    await lab?.close();
  });

  it('never serves a version older than an invalidated change; p99 commit -> invalidation reported', async () => {
    const bj = await lab.app('ez-bj');
    const sh = await lab.app('ez-sh');
    const bjIds = [...Array(10).keys()].map((i) => 100 + i); // shard 0: ez-bj's
    const shIds = [...Array(10).keys()].map((i) => 200 + i); // shard 1: ez-sh's
    for (const id of bjIds)
      await bj.query(
        "INSERT INTO orders (id, shard_id, user_id, merchant_id, state, amount_cents, created_at, updated_at) VALUES (?, 0, 'u', 'm', 'placed', 1, NOW(6), NOW(6))",
        [id],
      );
    for (const id of shIds)
      await sh.query(
        "INSERT INTO orders (id, shard_id, user_id, merchant_id, state, amount_cents, created_at, updated_at) VALUES (?, 1, 'u', 'm', 'placed', 1, NOW(6), NOW(6))",
        [id],
      );
    await lab.drain([['ez-bj', 'ez-sh']]);

    // the change stream of ez-sh, read as it arrives: when each (key, version) was invalidated
    const watcher = redisOf('ez-sh');
    const invalidatedAt = new Map<string, { us: number; version: Version }[]>();
    const entries: Record<string, string>[] = [];
    let watching = true;
    // start right after the newest entry now (a '$' would count from whenever XREAD reaches Redis)
    const newest = (await watcher.xrevrange('ez:changes', '+', '-', 'COUNT', 1)) as [string, string[]][];
    const watch = (async () => {
      let last = newest[0]?.[0] ?? '0-0';
      while (watching) {
        const res = (await watcher.xread('BLOCK', 200, 'STREAMS', 'ez:changes', last)) as
          | [string, [string, string[]][]][]
          | null;
        const us = nowUs();
        for (const [, items] of res ?? []) {
          for (const [id, fields] of items) {
            last = id;
            const e: Record<string, string> = {};
            for (let i = 0; i < fields.length; i += 2) e[fields[i]] = fields[i + 1];
            entries.push(e);
            const list = invalidatedAt.get(e.key) ?? [];
            list.push({ us, version: parseVersion(e.version) });
            invalidatedAt.set(e.key, list);
          }
        }
      }
    })();

    // readers in ez-sh through the cache rule
    const reads: { key: string; startUs: number; version: Version; hit: boolean }[] = [];
    let reading = true;
    const reader = async () => {
      const cache = new CacheAside(redisOf('ez-sh'));
      const db = await lab.app('ez-sh');
      let i = 0;
      while (reading) {
        const id = [...bjIds, ...shIds][i++ % 20];
        const key = `order:${id}`;
        const startUs = nowUs();
        const r = await cache.get<OrderRow>(
          key,
          async () => {
            const [rows] = await db.query(
              'SELECT id, state, version, updated_at, drc_origin FROM orders WHERE id = ?',
              [id],
            );
            return ((rows as OrderRow[])[0] as OrderRow) ?? null;
          },
          vOf,
        );
        if (r.value) reads.push({ key, startUs, version: vOf(r.value), hit: r.hit });
      }
    };
    const readers = [reader(), reader(), reader(), reader()];

    // writers: ez-bj's orders change in ez-bj (reach ez-sh through DRC), ez-sh's locally
    const committed = new Map<string, { us: number; local: boolean }>(); // key@version → commit time
    const writer = async (zone: 'ez-bj' | 'ez-sh', ids: number[]) => {
      const c = await lab.app(zone);
      for (let i = 0; i < 150; i++) {
        const id = ids[i % ids.length];
        await c.query(
          "UPDATE orders SET version = version + 1, state = 'moved', updated_at = NOW(6) WHERE id = ?",
          [id],
        );
        const us = nowUs();
        const [rows] = await c.query('SELECT updated_at, drc_origin FROM orders WHERE id = ?', [id]);
        const r = (rows as OrderRow[])[0];
        committed.set(`order:${id}@${r.updated_at}@${r.drc_origin}`, { us, local: zone === 'ez-sh' });
        await new Promise((res) => setTimeout(res, 5));
      }
    };
    await Promise.all([writer('ez-bj', bjIds), writer('ez-sh', shIds)]);
    await lab.drain([['ez-bj', 'ez-sh']]);
    // until the stream holds the final version of every row (or 10 s)
    const [finalRows] = await sh.query(
      'SELECT id, updated_at, drc_origin FROM orders WHERE id BETWEEN 100 AND 299',
    );
    const finals = (finalRows as OrderRow[]).map((r) => `order:${r.id}@${r.updated_at}@${r.drc_origin}`);
    const published = () => new Set(entries.map((e) => `${e.key}@${e.version}`));
    for (let i = 0; i < 200 && !finals.every((f) => published().has(f)); i++)
      await new Promise((r) => setTimeout(r, 50));
    reading = false;
    await Promise.all(readers);
    watching = false;
    await watch;

    // 1. a cache hit never returns a version older than a change invalidated before the read began;
    //    a miss (read from the database) never one older than a change committed before it began
    const byKey = new Map<string, { us: number; version: Version }[]>();
    for (const [k, c] of committed) {
      if (!c.local) continue; // a replicated change becomes visible at DRC's commit, unseen here
      const [key, at, origin] = k.split('@');
      const list = byKey.get(key) ?? [];
      list.push({ us: c.us, version: { at, origin: Number(origin) } });
      byKey.set(key, list);
    }
    const stale: string[] = [];
    for (const r of reads) {
      const before = r.hit ? (invalidatedAt.get(r.key) ?? []) : (byKey.get(r.key) ?? []);
      for (const b of before) {
        if (b.us < r.startUs && compareVersions(r.version, b.version) < 0)
          stale.push(
            `${r.key}: ${r.hit ? 'cache hit' : 'database read'} at ${r.startUs} got ${r.version.at}@${r.version.origin}, older than ${b.version.at}@${b.version.origin} (${r.hit ? 'invalidated' : 'committed'} at ${b.us})`,
          );
      }
    }
    expect(stale.slice(0, 5)).toEqual([]);
    expect(reads.length).toBeGreaterThan(1000);
    expect(reads.filter((r) => r.hit).length).toBeGreaterThan(100); // the cache was really used

    // 2. every local change was published, with its origin; DRC may have merged several changes
    //    of one row into one apply when behind, but every row's final version was published
    const local = entries.filter((e) => e.origin === 'ez-sh' && e.op === 'update');
    const replicated = entries.filter((e) => e.origin === 'ez-bj' && e.op === 'update');
    expect(local.length).toBe(150);
    expect(replicated.length).toBeGreaterThan(10);
    expect(finals.filter((f) => !published().has(f))).toEqual([]);
    expect(entries[0]).toMatchObject({ table: 'orders', op: 'update' });

    // 3. commit -> invalidation in ez-sh, measured on the test's clock
    const lat = { local: [] as number[], replicated: [] as number[] };
    for (const [key, list] of invalidatedAt) {
      for (const inv of list) {
        const c = committed.get(`${key}@${inv.version.at}@${inv.version.origin}`);
        if (c) (c.local ? lat.local : lat.replicated).push((inv.us - c.us) / 1000);
      }
    }
    const report = {
      localCommitToInvalidationMs: {
        n: lat.local.length,
        p50: quantile(lat.local, 0.5),
        p99: quantile(lat.local, 0.99),
      },
      replicatedCommitToInvalidationMs: {
        n: lat.replicated.length,
        p50: quantile(lat.replicated, 0.5),
        p99: quantile(lat.replicated, 0.99),
      },
    };
    console.log(`cache invalidation: ${JSON.stringify(report)}`);
    expect(lat.local.length).toBeGreaterThan(100);
    expect(report.localCommitToInvalidationMs.p99).toBeLessThan(500);
    const inv = await lab.procs.find((p) => p.name === 'inv-ez-sh')!.health();
    expect(inv.commitToInvalidationMs.local.count).toBeGreaterThan(0);

    // 4. after drain, every cached entry equals its row (DESIGN §7.7). Each key is read once more
    // through the cache rule first, so every key holds a value (not a marker or nothing) and every
    // one of them is compared: a check that skipped keys could pass having compared none.
    const redis = redisOf('ez-sh');
    const cache = new CacheAside(redis);
    const load = (id: number) => async () => {
      const [rows] = await sh.query(
        'SELECT id, state, version, updated_at, drc_origin FROM orders WHERE id = ?',
        [id],
      );
      return ((rows as OrderRow[])[0] as OrderRow) ?? null;
    };
    let compared = 0;
    for (const id of [...bjIds, ...shIds]) {
      await cache.get<OrderRow>(`order:${id}`, load(id), vOf);
      const cached = await redis.get(`order:${id}`);
      expect(cached, `order:${id} holds no value after a read through the cache rule`).not.toBeNull();
      expect(cached!.startsWith('\u0000'), `order:${id} still holds a lease or marker: ${cached}`).toBe(
        false,
      );
      expect(JSON.parse(cached!)).toEqual(await load(id)());
      compared++;
    }
    expect(compared).toBe(bjIds.length + shIds.length);
  });
});
