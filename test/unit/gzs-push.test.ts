/**
 * GZS server logic in-process with an in-memory store (a test double of TableStore): a change
 * reaches every subscriber; a store that moved on under a change (another instance committed
 * first) makes GZS adopt that table and apply the change on top; a store that cannot write
 * answers 503 and changes nothing; subscribers get what another instance committed.
 */
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { AckEntry } from '../../src/gzs/acks.js';
import { GzsApi } from '../../src/gzs/api.js';
import { type GzsDoc, nextDoc } from '../../src/gzs/doc.js';
import { GzsServer } from '../../src/gzs/server.js';
import {
  StaleStoreError,
  type StoreEvents,
  type StoreState,
  StoreUnavailableError,
  type TableStore,
} from '../../src/gzs/store.js';
import { FenceIndex } from '../../src/routing/index.js';
import { RoutingClient } from '../../src/sdk/client.js';
import { loadTopology } from '../../src/topology/index.js';
import { createLogger } from '../../src/util/log.js';

const topology = loadTopology();
const fences = FenceIndex.build(topology.fences);
const log = createLogger('gzs-test');
log.level = 'silent';

/** In-memory store; `interfere` runs before the next commit (e.g. another instance's commit). */
class MemoryStore implements TableStore {
  readonly description = 'memory:';
  state: StoreState = 'connected';
  doc!: GzsDoc;
  events!: StoreEvents;
  interfere: (() => void) | undefined;
  commits = 0;
  async open(initial: () => GzsDoc, events: StoreEvents): Promise<GzsDoc> {
    this.events = events;
    this.doc = initial();
    return this.doc;
  }
  async commit(prev: GzsDoc, next: GzsDoc): Promise<void> {
    const hook = this.interfere;
    this.interfere = undefined;
    hook?.();
    if (this.state !== 'connected') throw new StoreUnavailableError('memory store is down');
    if (this.doc !== prev) throw new StaleStoreError(this.doc);
    this.doc = next;
    this.commits++;
  }
  async publishAcks(_instance: string, _entries: AckEntry[]): Promise<void> {}
  async close(): Promise<void> {}
  /** what another GZS instance would do: commit and let the watch tell this one */
  commitElsewhere(changes: Parameters<typeof nextDoc>[1]): GzsDoc {
    this.doc = nextDoc(this.doc, changes).doc;
    return this.doc;
  }
}

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function start(
  extra: Partial<ConstructorParameters<typeof GzsServer>[0]> = {},
): Promise<{ store: MemoryStore; server: GzsServer; api: GzsApi }> {
  const store = new MemoryStore();
  const server = new GzsServer({
    topology,
    store,
    port: 0,
    token: 't',
    log,
    heartbeatMs: 200,
    leaseMs: 600,
    ...extra,
  });
  await server.start();
  open.push(server);
  return { store, server, api: new GzsApi(server.url, { token: 't' }) };
}

async function subscribers(url: string, n: number): Promise<RoutingClient[]> {
  const list = await Promise.all(
    Array.from({ length: n }, () => RoutingClient.start({ gzs: [url], fences })),
  );
  for (const c of list) open.push(c);
  return list;
}

describe('GZS push and store handling (in-process)', () => {
  it('pushes a change to every subscriber, which then routes with it', async () => {
    const { api, server } = await start();
    const subs = await subscribers(server.url, 50);
    const r = await api.setOwner(0, 'ez-sh');
    expect(r.epoch).toBe(2);
    const held = await Promise.all(subs.map((c) => c.waitForEpoch(2, 2000)));
    expect(held.every(Boolean)).toBe(true);
    for (const c of subs) expect(c.resolver.route('shard=0')).toMatchObject({ zone: 'ez-sh', epoch: 2 });
  });

  it('applies a change on top of a table another instance committed first', async () => {
    const { api, server, store } = await start();
    const [sub] = await subscribers(server.url, 1);
    store.interfere = () => {
      const other = store.commitElsewhere([{ op: 'lock', shard: 5 }]);
      store.events.onDoc(other);
    };
    const r = await api.lock(6);
    expect(r.epoch).toBe(3); // epoch 2 was the other instance's
    expect(r.table.shards['5'].state).toBe('locked');
    expect(r.table.shards['6'].state).toBe('locked');
    expect(await sub.waitForEpoch(3, 2000)).toBe(true);
    // with ifEpoch the caller's view was stale: 409, nothing applied
    store.interfere = () => store.events.onDoc(store.commitElsewhere([{ op: 'unlock', shard: 5 }]));
    await expect(api.unlock(6, { ifEpoch: 3 })).rejects.toMatchObject({ status: 409, extra: { epoch: 4 } });
    expect((await api.table()).table.shards['6'].state).toBe('locked');
  });

  it('checks If-Match against the table the change would apply to, also after adopting a newer one', async () => {
    const { api, server, store } = await start();
    const post = async (path: string, ifMatch: string) => {
      const res = await request(`${server.url}${path}`, {
        method: 'POST',
        headers: { authorization: 'Bearer t', 'if-match': ifMatch },
      });
      return { status: res.statusCode, etag: res.headers.etag, body: (await res.body.json()) as any };
    };
    const t = await request(`${server.url}/table`);
    await t.body.dump();
    const etag = String(t.headers.etag);
    // another instance commits while this change is on its way to the store: the caller's ETag is stale
    store.interfere = () => store.events.onDoc(store.commitElsewhere([{ op: 'lock', shard: 5 }]));
    const r = await post('/shards/6/lock', etag);
    expect(r.status).toBe(412);
    expect(r.body.error).toMatchObject({ code: 'EZ_PRECONDITION_FAILED', epoch: 2 });
    expect(r.etag).toBe(etag.replace(/\.1"$/, '.2"'));
    expect((await api.table()).table.shards['6'].state).toBe('serving');
    expect(store.commits).toBe(0);
    const ok = await post('/shards/6/lock', String(r.etag));
    expect([ok.status, ok.body.epoch]).toEqual([200, 3]);
  });

  it('neither commits nor pushes a batch of no-ops, and answers it with the current epoch and noop: true', async () => {
    const { api, server, store } = await start();
    // a raw subscriber: counts every table frame (an SDK would drop a repeated epoch silently)
    const frames: number[] = [];
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/watch`);
    open.push({ close: async () => ws.close() });
    const waiting: (() => void)[] = [];
    ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.t === 'table') frames.push(m.table.epoch);
      for (const w of waiting) w();
    });
    const got = (epoch: number) =>
      new Promise<void>((resolve) => {
        const check = () => frames.includes(epoch) && resolve();
        waiting.push(check);
        check();
      });
    await got(1);
    const r = await api.changes([
      { op: 'owner', shard: 0, zone: 'ez-bj' },
      { op: 'unlock', shard: 1 },
      { op: 'zone', zone: 'ez-sh', state: 'active' },
    ]);
    expect(r).toMatchObject({ epoch: 1, noop: true, changes: [] });
    expect(r.table.epoch).toBe(1);
    expect(store.commits).toBe(0);
    const real = await api.changes([
      { op: 'unlock', shard: 1 },
      { op: 'lock', shard: 1 },
    ]);
    expect(real).toMatchObject({ epoch: 2, noop: false, changes: [{ op: 'lock', shard: 1 }] });
    await got(2);
    expect(frames).toEqual([1, 2]); // nothing was pushed for the no-op batch
    expect(store.commits).toBe(1);
  });

  it('keeps owner changes for ownershipRetentionMs, then folds them into the base', async () => {
    const { api } = await start({ ownershipRetentionMs: 5 });
    const moved = await api.setOwner(0, 'ez-sh');
    const first = await api.ownership();
    expect(first.retainedFrom.epoch).toBe(1);
    expect(first.events).toHaveLength(1);
    const at = first.events[0].at;
    while (Date.now() <= at + 5) await new Promise((r) => setTimeout(r, 2)); // past the retention
    const next = await api.lock(1);
    const own = await api.ownership();
    expect(own.retainedFrom).toEqual({ epoch: moved.epoch, at });
    expect(own.base?.owners['0']).toBe('ez-sh');
    expect(own.events).toEqual([{ epoch: next.epoch, at: expect.any(Number), shard: 1, op: 'lock' }]);
    // the default keeps it (30 days)
    const d = await start();
    await d.api.setOwner(0, 'ez-sh');
    await d.api.lock(1);
    expect((await d.api.ownership()).retainedFrom.epoch).toBe(1);
  });

  it('answers 503 while the store cannot write, changes nothing, and pushes what others commit', async () => {
    const { api, server, store } = await start();
    const [sub] = await subscribers(server.url, 1);
    store.state = 'disconnected';
    await expect(api.lock(1)).rejects.toMatchObject({ status: 503, code: 'EZ_STORE_UNAVAILABLE' });
    expect((await api.table()).table.epoch).toBe(1);
    expect(store.commits).toBe(0);
    store.state = 'connected';
    store.events.onDoc(store.commitElsewhere([{ op: 'zone', zone: 'ez-bj', state: 'down' }]));
    expect(await sub.waitForEpoch(2, 2000)).toBe(true);
    expect(sub.table.zones['ez-bj'].state).toBe('down');
  });
});
