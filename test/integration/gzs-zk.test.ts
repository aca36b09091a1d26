/**
 * Two GZS processes over one real ZooKeeper: a change made on one is served and pushed by the
 * other; compare-and-set holds across instances; acknowledgements are visible on both; kill one
 * and changes still succeed on the other (and SDKs fail over to it); ZooKeeper down → changes
 * refused with 503 while reads go on, and accepted again once it is back.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GzsApi } from '../../src/gzs/api.js';
import { type GzsDoc, newDoc, nextDoc } from '../../src/gzs/doc.js';
import { StaleStoreError, type StoreEvents } from '../../src/gzs/store.js';
import { type GzsProcess, startGzsProcess } from '../../src/gzs/testkit.js';
import { ZkStore } from '../../src/gzs/zk-store.js';
import { FenceIndex } from '../../src/routing/index.js';
import { encodeOrderId } from '../../src/routing/order-id.js';
import { RoutingClient, type RoutingClientOptions } from '../../src/sdk/client.js';
import { loadTopology } from '../../src/topology/index.js';
import { tempDir } from '../helpers/run-dir.js';
import { type Service, startZooKeeper } from '../helpers/services.js';

const topology = loadTopology();
const fences = FenceIndex.build(topology.fences);
let zk: Service & { connectString: string };
let a: GzsProcess;
let b: GzsProcess;
let apiA: GzsApi;
let apiB: GzsApi;
const clients: RoutingClient[] = [];

async function client(o: Partial<RoutingClientOptions> & { gzs: string[] }): Promise<RoutingClient> {
  const c = await RoutingClient.start({ fences, backoff: { initialMs: 50, maxMs: 300 }, ...o });
  clients.push(c);
  return c;
}

const tableOf = async (g: GzsProcess) => {
  const res = await request(`${g.url}/table`);
  return {
    status: res.statusCode,
    table: (await res.body.json()) as {
      epoch: number;
      shards: Record<string, { zone: string; state: string }>;
    },
  };
};

beforeAll(async () => {
  zk = await startZooKeeper();
  const dir = tempDir('gzs-zk');
  const store = `zk:${zk.connectString}/ezctl/t-${randomBytes(3).toString('hex')}/gzs`;
  const common = { store, leaseMs: 1500, heartbeatMs: 300 };
  a = await startGzsProcess({ ...common, instance: 'a', logFile: join(dir, 'a.log') });
  b = await startGzsProcess({ ...common, instance: 'b', logFile: join(dir, 'b.log') });
  apiA = new GzsApi(a.url, { token: a.token });
  apiB = new GzsApi(b.url, { token: b.token });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await a?.stop();
  await b?.stop();
  await zk?.stop();
});

describe('GZS over ZooKeeper (two instances)', () => {
  it('serves and pushes on one instance a change made on the other', async () => {
    const onB = await client({ gzs: [b.url] });
    const r = await apiA.lock(9, { reason: 'zk test' });
    expect(await onB.waitForEpoch(r.epoch, 3000)).toBe(true);
    expect(onB.resolver.route('shard=9')).toMatchObject({ shardState: 'locked', epoch: r.epoch });
    const t = await tableOf(b);
    expect(t.table.epoch).toBe(r.epoch);
    expect(t.table.shards['9'].state).toBe('locked');
    // and the other way round
    const back = await apiB.unlock(9);
    expect(back.epoch).toBe(r.epoch + 1);
    await expect.poll(async () => (await tableOf(a)).table.epoch, { timeout: 3000 }).toBe(back.epoch);
  });

  it('never lets two instances overwrite each other: concurrent changes get distinct epochs, a stale ifEpoch 409', async () => {
    const e = (await apiA.table()).table.epoch;
    const results = await Promise.all([
      apiA.lock(10),
      apiB.lock(11),
      apiA.lock(12),
      apiB.lock(13),
      // each a real change in any order (a no-op would answer the epoch it found, bumping none)
      apiA.setZoneState('ez-sh', 'down'),
      apiB.setZoneState('ez-bj', 'down'),
    ]);
    expect(results.map((r) => r.epoch).sort((x, y) => x - y)).toEqual([
      e + 1,
      e + 2,
      e + 3,
      e + 4,
      e + 5,
      e + 6,
    ]);
    // each instance serves the other's last commit once its watch fired (milliseconds)
    for (const api of [apiA, apiB]) {
      await expect.poll(async () => (await api.table()).table.epoch, { timeout: 3000 }).toBe(e + 6);
    }
    const t = (await apiB.table()).table;
    for (const s of [10, 11, 12, 13]) expect(t.shards[s].state).toBe('locked'); // none lost
    const history = await apiA.history(e);
    expect(history.entries.map((h) => h.epoch)).toEqual([e + 1, e + 2, e + 3, e + 4, e + 5, e + 6]);

    const settled = await Promise.allSettled([
      apiA.unlock(10, { ifEpoch: e + 6 }),
      apiB.unlock(11, { ifEpoch: e + 6 }),
    ]);
    expect(settled.map((s) => s.status).sort()).toEqual(['fulfilled', 'rejected']);
    const lost = settled.find((s) => s.status === 'rejected') as PromiseRejectedResult;
    expect(lost.reason).toMatchObject({ status: 409, code: 'EZ_STALE_EPOCH' });
    await apiA.changes([
      { op: 'unlock', shard: 10 },
      { op: 'unlock', shard: 11 },
      { op: 'unlock', shard: 12 },
      { op: 'unlock', shard: 13 },
      { op: 'zone', zone: 'ez-sh', state: 'active' },
      { op: 'zone', zone: 'ez-bj', state: 'active' },
    ]);
  });

  it('answers acknowledgements on either instance for holders connected to both', async () => {
    const ha = await client({ gzs: [a.url], holder: { id: 'holder-a', kind: 'router', zone: null } });
    const hb = await client({ gzs: [b.url], holder: { id: 'holder-b', kind: 'dal', zone: 'ez-bj' } });
    const r = await apiA.lock(14);
    await Promise.all([ha.waitForEpoch(r.epoch, 3000), hb.waitForEpoch(r.epoch, 3000)]);
    for (const api of [apiA, apiB]) {
      const acks = await api.acks(r.epoch, 3000);
      expect(acks.allAcked).toBe(true);
      const mine = acks.holders.filter((h) => h.id.startsWith('holder-'));
      expect(mine.map((h) => [h.id, h.via, h.live, h.epoch >= r.epoch])).toEqual([
        ['holder-a', 'a', true, true],
        ['holder-b', 'b', true, true],
      ]);
    }
    await ha.close();
    await hb.close();
    await apiA.unlock(14);
  });

  it('keeps accepting changes on one instance when the other is killed; SDKs fail over', async () => {
    const both = await client({
      gzs: [a.url, b.url],
      holder: { id: 'failover', kind: 'soa', zone: 'ez-sh' },
    });
    expect(both.url).toBe(a.url);
    await a.kill();
    const r = await apiB.setOwner(15, 'ez-sh');
    expect(r.table.shards['15'].zone).toBe('ez-sh');
    expect(await both.waitForEpoch(r.epoch, 5000)).toBe(true);
    expect(both.url).toBe(b.url);
    // the killed instance comes back with the newest table from ZooKeeper
    await a.restart();
    expect((await tableOf(a)).table.epoch).toBe(r.epoch);
    const again = await apiA.setOwner(15, 'ez-bj');
    expect(await both.waitForEpoch(again.epoch, 3000)).toBe(true);
  });

  it('answers a no-op only after ZooKeeper confirmed the table it was judged on is still the newest', async () => {
    // two stores on one fresh path, as two GZS instances would hold it
    const path = `/ezctl/t-${randomBytes(3).toString('hex')}/gzs`;
    const events: StoreEvents = { onDoc: () => {}, onAcks: () => {}, onState: () => {} };
    const x = new ZkStore({ connect: zk.connectString, path, instance: 'x' });
    const y = new ZkStore({ connect: zk.connectString, path, instance: 'y' });
    try {
      const first = await x.open(() => newDoc(topology), events);
      const seenByY: GzsDoc = await y.open(() => newDoc(topology), events);
      await x.verify(first); // znode version 0 (never committed) and still current
      const next = nextDoc(seenByY, [{ op: 'lock', shard: 1 }]).doc;
      await y.commit(seenByY, next);
      // x still holds the version-0 document (its watch may or may not have fired): stale
      const stale = await x.verify(first).then(
        () => null,
        (err: unknown) => err,
      );
      expect(stale).toBeInstanceOf(StaleStoreError);
      expect((stale as StaleStoreError).latest.table.epoch).toBe(2);
      await x.verify((stale as StaleStoreError).latest);
      await y.verify(next);
    } finally {
      await x.close();
      await y.close();
    }
    // over the processes: a change that looks like a no-op on B while A just moved the shard is
    // applied on top of A's change, never answered "noop" from B's older copy
    for (let round = 0; round < 20; round++) {
      const before = (await apiB.table()).table;
      const zone = before.shards['20'].zone;
      const other = zone === 'ez-bj' ? 'ez-sh' : 'ez-bj';
      const moved = await apiA.setOwner(20, other);
      const back = await apiB.setOwner(20, zone);
      expect(back.noop, `round ${round}`).toBe(false);
      expect(back.epoch).toBe(moved.epoch + 1);
      expect(back.table.shards['20'].zone).toBe(zone);
    }
  });

  it('trims the history, never the ownership log, to keep the document within a znode', async () => {
    const moved = await apiA.setOwner(21, 'ez-sh');
    // 8,000 order locks: ~0.5 MB in the table, ~0.65 MB more as their history entry, over 1 MB together
    const ids = Array.from({ length: 8000 }, (_, i) =>
      encodeOrderId({ timestampMs: Date.UTC(2026, 6, 1) + i, shard: i % 1024, sequence: 0 }),
    );
    const locked = await apiA.changes(
      ids.map((orderId) => ({ op: 'order-lock', orderId, reason: 'failover' })),
    );
    expect(Object.keys(locked.table.orderLocks)).toHaveLength(8000);
    const history = await apiA.history(0);
    expect(history.entries.map((e) => e.epoch)).not.toContain(moved.epoch);
    // both instances serve the same log, with the owner change in it
    await expect.poll(async () => (await apiB.table()).table.epoch, { timeout: 3000 }).toBe(locked.epoch);
    const [onA, onB] = await Promise.all([apiA.ownership(), apiB.ownership()]);
    expect({ ...onB, now: 0 }).toEqual({ ...onA, now: 0 });
    expect(onB.events).toContainEqual({
      epoch: moved.epoch,
      at: expect.any(Number),
      shard: 21,
      from: 'ez-bj',
      to: 'ez-sh',
    });
    const at = onB.events.find((e) => e.epoch === moved.epoch)!.at;
    const owner = async (t: number) =>
      (await (await request(`${b.url}/owner?shard=21&at=${t}`)).body.json()) as object;
    expect(await owner(at - 1)).toMatchObject({ zone: 'ez-bj', exact: true });
    expect(await owner(at)).toMatchObject({ zone: 'ez-sh', epoch: moved.epoch, exact: true });
    // cleaned up through B, which the next test reads first (so it holds the newest table)
    await apiB.changes([
      ...ids.map((orderId) => ({ op: 'order-unlock' as const, orderId })),
      { op: 'owner', shard: 21, zone: 'ez-bj' },
    ]);
  });

  it('refuses changes with 503 while ZooKeeper is down, serves reads, and accepts changes once it is back', async () => {
    const sub = await client({ gzs: [b.url] });
    const before = (await apiB.table()).table.epoch;
    await zk.stop();
    await expect(apiB.lock(16)).rejects.toMatchObject({ status: 503, code: 'EZ_STORE_UNAVAILABLE' });
    expect((await tableOf(b)).status).toBe(200);
    expect(sub.resolver.route('shard=16')).toMatchObject({ epoch: before });
    await zk.restart();
    // retried with ifEpoch, as docs/gzs.md advises: a 503 after a ZooKeeper timeout may still have
    // landed, and the compare-and-set keeps a retry from applying it twice
    const deadline = Date.now() + 20_000;
    let epoch = 0;
    while (!epoch && Date.now() < deadline) {
      try {
        epoch = (await apiB.lock(16, { ifEpoch: before })).epoch;
      } catch (err) {
        const status = (err as { status?: number }).status;
        if (status === 409) epoch = (await apiB.table()).table.epoch;
        else await new Promise((resolve) => setTimeout(resolve, 300));
      }
    }
    expect(epoch).toBe(before + 1);
    expect((await apiB.table()).table.shards['16'].state).toBe('locked');
    const r = { epoch };
    expect(await sub.waitForEpoch(r.epoch, 3000)).toBe(true);
    // A catches up too once its ZooKeeper session is back (a new one at most a session timeout later)
    await expect.poll(async () => (await tableOf(a)).table.epoch, { timeout: 15_000 }).toBe(r.epoch);
  });
});
