import { describe, expect, it } from 'vitest';
import { AckLedger } from '../../src/gzs/acks.js';
import { applyChanges, BatchSchema, type Change, parseOr400, parseShardText } from '../../src/gzs/changes.js';
import { type GzsDoc, newDoc, nextDoc, ownerAt, parseDoc, trimHistory } from '../../src/gzs/doc.js';
import { GzsError } from '../../src/gzs/errors.js';
import { ifMatchHolds, parseIfMatch } from '../../src/gzs/etag.js';
import { parseStoreSpec } from '../../src/gzs/store.js';
import { storeFor } from '../../src/launch/kinds/gzs.js';
import { initialTable } from '../../src/routing/table.js';
import { loadTopology } from '../../src/topology/index.js';

const topology = loadTopology();
const table = initialTable(topology);
const ORDER = '7290412234567680001';

/** The GzsError a function throws (fails the test when it does not throw one). */
function gzsError(fn: () => unknown): GzsError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GzsError) return err;
    throw err;
  }
  throw new Error('expected a GzsError');
}

describe('applyChanges', () => {
  it('bumps the epoch by one per batch and records what was there before', () => {
    const { table: t, applied } = applyChanges(
      table,
      [
        { op: 'lock', shard: 0, reason: 'move' },
        { op: 'owner', shard: 0, zone: 'ez-sh' },
        { op: 'zone', zone: 'ez-bj', state: 'down' },
        { op: 'order-lock', orderId: ORDER, reason: 'failover' },
      ],
      1000,
    );
    expect(t.epoch).toBe(table.epoch + 1);
    expect(t.shards[0]).toEqual({ zone: 'ez-sh', state: 'locked' });
    expect(t.zones['ez-bj'].state).toBe('down');
    expect(t.orderLocks[ORDER]).toEqual({ reason: 'failover', since: 1000 });
    expect(applied).toEqual([
      { op: 'lock', shard: 0, reason: 'move', from: 'serving' },
      { op: 'owner', shard: 0, zone: 'ez-sh', from: 'ez-bj' },
      { op: 'zone', zone: 'ez-bj', state: 'down', from: 'active' },
      { op: 'order-lock', orderId: ORDER, reason: 'failover', from: 'unlocked' },
    ]);
    // the input table is untouched (SDKs may hold it)
    expect(table.shards[0]).toEqual({ zone: 'ez-bj', state: 'serving' });
    expect(table.zones['ez-bj'].state).toBe('active');
    expect(table.orderLocks).toEqual({});
  });

  it("keeps an order lock's start time when it is locked again, and unlocks it", () => {
    const a = applyChanges(table, [{ op: 'order-lock', orderId: ORDER, reason: 'one' }], 1000).table;
    const b = applyChanges(a, [{ op: 'order-lock', orderId: ORDER, reason: 'two' }], 5000).table;
    expect(b.orderLocks[ORDER]).toEqual({ reason: 'two', since: 1000 });
    const c = applyChanges(b, [{ op: 'order-unlock', orderId: ORDER }], 6000).table;
    expect(c.orderLocks).toEqual({});
    expect(b.orderLocks[ORDER]).toBeDefined();
  });

  it('answers 404 for an unknown shard, eZone or order lock, and applies nothing of the batch', () => {
    const e1 = gzsError(() => applyChanges(table, [{ op: 'lock', shard: 999 }], 0));
    expect([e1.status, e1.code]).toEqual([404, 'EZ_UNKNOWN_SHARD']);
    expect(e1.message).toMatch(/shard 999 is not in the routing table/);
    const e2 = gzsError(() =>
      applyChanges(
        table,
        [
          { op: 'lock', shard: 1 },
          { op: 'owner', shard: 1, zone: 'ez-gz' },
        ],
        0,
      ),
    );
    expect([e2.status, e2.code]).toEqual([404, 'EZ_UNKNOWN_ZONE']);
    expect(e2.message).toMatch(
      /^changes\[1\]: eZone "ez-gz" is not in the routing table \(known: ez-bj, ez-sh\)/,
    );
    expect(table.shards[1].state).toBe('serving');
    const e3 = gzsError(() => applyChanges(table, [{ op: 'order-unlock', orderId: ORDER }], 0));
    expect([e3.status, e3.code]).toEqual([404, 'EZ_NO_ORDER_LOCK']);
  });
});

describe('no-op changes', () => {
  const locked = applyChanges(
    table,
    [
      { op: 'lock', shard: 1 },
      { op: 'order-lock', orderId: ORDER, reason: 'r' },
    ],
    1000,
  ).table;

  it('leave the table as it is (same object, same epoch) when every change is a no-op', () => {
    const noops: Change[] = [
      { op: 'owner', shard: 0, zone: table.shards[0].zone },
      { op: 'lock', shard: 1, reason: 'again' },
      { op: 'unlock', shard: 2 },
      { op: 'zone', zone: 'ez-bj', state: 'active' },
      { op: 'order-lock', orderId: ORDER, reason: 'r' },
    ];
    const r = applyChanges(locked, noops, 5000);
    expect(r.applied).toEqual([]);
    expect(r.table).toBe(locked);
    expect(locked.orderLocks[ORDER]).toEqual({ reason: 'r', since: 1000 });
  });

  it('apply only the real changes of a mixed batch, each judged against the state before it', () => {
    const r = applyChanges(
      locked,
      [
        { op: 'owner', shard: 0, zone: table.shards[0].zone }, // no-op
        { op: 'owner', shard: 0, zone: 'ez-sh' }, // real
        { op: 'owner', shard: 0, zone: 'ez-sh' }, // no-op now
        { op: 'unlock', shard: 1 }, // real
        { op: 'unlock', shard: 1 }, // no-op now
        { op: 'order-lock', orderId: ORDER, reason: 'other' }, // real: the reason changes
      ],
      5000,
    );
    expect(r.table.epoch).toBe(locked.epoch + 1);
    expect(r.applied).toEqual([
      { op: 'owner', shard: 0, zone: 'ez-sh', from: 'ez-bj' },
      { op: 'unlock', shard: 1, from: 'locked' },
      { op: 'order-lock', orderId: ORDER, reason: 'other', from: 'locked' },
    ]);
    expect(r.table.orderLocks[ORDER]).toEqual({ reason: 'other', since: 1000 });
  });

  it('still refuse what does not exist: an unknown shard or eZone, an order that is not locked (404)', () => {
    expect(gzsError(() => applyChanges(table, [{ op: 'unlock', shard: 999 }], 0)).code).toBe(
      'EZ_UNKNOWN_SHARD',
    );
    expect(
      gzsError(() => applyChanges(table, [{ op: 'zone', zone: 'ez-gz', state: 'active' }], 0)).code,
    ).toBe('EZ_UNKNOWN_ZONE');
    expect(gzsError(() => applyChanges(table, [{ op: 'order-unlock', orderId: ORDER }], 0)).code).toBe(
      'EZ_NO_ORDER_LOCK',
    );
  });

  it('make no new document: no epoch, no history entry', () => {
    const doc = newDoc(topology, 1000);
    const r = nextDoc(doc, [{ op: 'unlock', shard: 3 }], { now: 2000 });
    expect(r.entry).toBeNull();
    expect(r.doc).toBe(doc);
  });
});

describe('change request validation', () => {
  const bad = (body: unknown): string => gzsError(() => parseOr400(BatchSchema, body)).message;

  it('names the field and what is expected', () => {
    expect(bad({ changes: [{ op: 'lock', shard: 'x' }] })).toBe(
      'body: changes[0].shard: expected a shard id (integer 0..1023), got "x"',
    );
    expect(bad({ changes: [{ op: 'owner', shard: 1, zone: 'EZ_BJ' }] })).toMatch(
      /^body: changes\[0\]\.zone: bad eZone id "EZ_BJ"/,
    );
    expect(bad({ changes: [{ op: 'teleport' }] })).toMatch(/^body: changes\[0\]\.op: unknown op "teleport"/);
    expect(bad({ changes: [{ op: 'order-lock', orderId: '12a', reason: 'x' }] })).toBe(
      'body: changes[0].orderId: "12a" is not a decimal order id (expected digits only, e.g. 7290412234567680001)',
    );
    expect(bad({ changes: [] })).toBe('body: changes: expected at least one change');
    expect(bad({ ifEpoch: 0, changes: [{ op: 'unlock', shard: 1 }] })).toBe(
      'body: ifEpoch: expected an epoch ≥ 1',
    );
    expect(bad({ changes: [{ op: 'unlock', shard: 1, why: 1 }] })).toBe(
      'body: changes[0]: unknown key "why"',
    );
    expect(bad([1])).toMatch(/^body: expected object/);
    expect(gzsError(() => parseOr400(BatchSchema, {})).status).toBe(400);
  });

  it('takes shard ids in paths and queries only in canonical decimal form', () => {
    expect(parseShardText('0', 'shard')).toBe(0);
    expect(parseShardText('1023', 'shard')).toBe(1023);
    for (const text of ['007', '00', '+7', '-0', '7.0', ' 7', '7 ', '', '0x7', '1e2', '７']) {
      const e = gzsError(() => parseShardText(text, 'shard (in the path)'));
      expect(e.status, text).toBe(400);
      expect(e.message, text).toBe(
        `shard (in the path): expected a shard id (integer 0..1023 in canonical decimal: no leading zeros, sign, point or spaces), got ${JSON.stringify(text)}`,
      );
    }
    expect(gzsError(() => parseShardText('1024', 'shard')).message).toBe(
      'shard: expected a shard id (integer 0..1023), got 1024',
    );
    expect(gzsError(() => parseShardText(null, 'shard')).message).toMatch(/^shard: required/);
  });

  it('accepts a valid batch as is', () => {
    const body = { ifEpoch: 3, changes: [{ op: 'zone', zone: 'ez-sh', state: 'down' }] as Change[] };
    expect(parseOr400(BatchSchema, body)).toEqual(body);
  });
});

describe('If-Match', () => {
  const cur = 'c0ffee.42';
  const holds = (h: string | string[]) => ifMatchHolds(parseIfMatch(h)!, cur);

  it('matches "*", the current tag alone or in a list, never a weak or another tag', () => {
    expect(parseIfMatch(undefined)).toBeUndefined();
    expect(holds('*')).toBe(true);
    expect(holds('"c0ffee.42"')).toBe(true);
    expect(holds(' "a.1" , "c0ffee.42" ')).toBe(true);
    expect(holds(['"a.1"', '"c0ffee.42"'])).toBe(true);
    expect(holds('"c0ffee.41"')).toBe(false);
    expect(holds('"stale.1"')).toBe(false);
    expect(holds('W/"c0ffee.42"')).toBe(false); // If-Match compares strongly
    expect(holds('""')).toBe(false);
  });

  it('refuses what is not an entity tag list with a 400 naming it', () => {
    for (const h of ['stale.1', '', '"a.1" "b.2"', '"a.1",,', '"a', '*, "a.1"', 'w/"a.1"']) {
      const e = gzsError(() => parseIfMatch(h));
      expect(e.status, h).toBe(400);
      expect(e.message, h).toBe(
        `If-Match: expected "*" or entity tags (GET /table's ETag, "<generation>.<epoch>" with its double quotes, comma-separated), got ${JSON.stringify(h.trim())}`,
      );
    }
  });
});

describe('document and history', () => {
  it('round-trips a document and rejects a damaged one with its origin', () => {
    const doc = newDoc(topology, 1000);
    expect(parseDoc(JSON.stringify(doc), 'x')).toEqual(doc);
    expect(() => parseDoc('{"format":"ezctl-gzs/1"}', '/data/table.json')).toThrow(
      /^\/data\/table\.json: not a GZS table document: generation: required/,
    );
    expect(() => parseDoc('{oops', '/data/table.json')).toThrow(/^\/data\/table\.json: not JSON/);
  });

  it('keeps the newest entries within the count and byte limits', () => {
    let doc: GzsDoc = newDoc(topology, 0);
    for (let i = 0; i < 30; i++) doc = nextDoc(doc, [{ op: 'lock', shard: i % 40 }], { now: i }).doc;
    const byCount = trimHistory(doc.history, { maxEntries: 10, maxBytes: 1e9 });
    expect(byCount.map((e) => e.epoch)).toEqual([22, 23, 24, 25, 26, 27, 28, 29, 30, 31]);
    const lastFive = doc.history.slice(-5).reduce((n, e) => n + JSON.stringify(e).length + 1, 0);
    const byBytes = trimHistory(doc.history, { maxEntries: 1000, maxBytes: lastFive });
    expect(byBytes).toHaveLength(5);
    expect(byBytes.at(-1)!.epoch).toBe(31);
    // the newest entry stays even when it alone is over the budget
    expect(trimHistory(doc.history, { maxEntries: 1000, maxBytes: 1 })).toHaveLength(1);
  });

  it('tells who owned a shard at a given time, from the ownership log', () => {
    let doc = newDoc(topology, 1000);
    doc = nextDoc(doc, [{ op: 'owner', shard: 0, zone: 'ez-sh' }], { now: 2000, actor: 'op' }).doc; // epoch 2
    doc = nextDoc(doc, [{ op: 'lock', shard: 5 }], { now: 3000 }).doc; // epoch 3
    doc = nextDoc(doc, [{ op: 'owner', shard: 0, zone: 'ez-bj' }], { now: 4000 }).doc; // epoch 4
    expect(ownerAt(doc, 0, 1500, 10_000)).toEqual({
      shard: 0,
      at: 1500,
      zone: 'ez-bj',
      locked: false,
      epoch: 1,
      exact: true,
    });
    expect(ownerAt(doc, 0, 2000, 10_000)).toMatchObject({ zone: 'ez-sh', epoch: 2, exact: true });
    expect(ownerAt(doc, 0, 3500, 10_000)).toMatchObject({ zone: 'ez-sh', epoch: 3, exact: true });
    expect(ownerAt(doc, 5, 3500, 10_000)).toMatchObject({ zone: 'ez-sh', locked: true, epoch: 3 });
    expect(ownerAt(doc, 0, 9999, 10_000)).toMatchObject({ zone: 'ez-bj', epoch: 4, exact: true });
    // before the table existed, or after GZS's now: unknown, not a guess
    expect(ownerAt(doc, 0, 500, 10_000)).toEqual({
      shard: 0,
      at: 500,
      zone: null,
      locked: null,
      epoch: null,
      exact: false,
    });
    expect(ownerAt(doc, 0, 10_001, 10_000)).toMatchObject({ zone: null, exact: false });
    // the ordinary history trimmed to its last entry: the ownership log still answers exactly
    const trimmed = { ...doc, history: doc.history.slice(-1) };
    expect(ownerAt(trimmed, 0, 3500, 10_000)).toMatchObject({ zone: 'ez-sh', epoch: 3, exact: true });
    expect(ownerAt(trimmed, 0, 1500, 10_000)).toMatchObject({ zone: 'ez-bj', epoch: 1, exact: true });
  });
});

describe('acknowledgement ledger', () => {
  const h = (id: string) => ({ id, kind: 'router', zone: null });

  it('is all-acked when every live holder holds the epoch; an expired lease stops blocking', () => {
    const ledger = new AckLedger('g1', 3000, 0);
    ledger.heartbeat(h('a'), 5, 10_000);
    ledger.heartbeat(h('b'), 4, 10_000);
    expect(ledger.report(5, 10_500)).toMatchObject({ allAcked: false, live: 2, acked: 1, waitingFor: ['b'] });
    ledger.heartbeat(h('a'), 5, 12_000);
    // b's lease (10_000 + 3000) has run out at 13_001; a's has not
    expect(ledger.report(5, 13_001)).toMatchObject({ allAcked: true, live: 1, acked: 1, waitingFor: [] });
    expect(ledger.report(5, 13_001).holders.map((x) => [x.id, x.live])).toEqual([
      ['a', true],
      ['b', false],
    ]);
  });

  it('never says all-acked during the warm-up after a start', () => {
    const ledger = new AckLedger('g1', 3000, 20_000);
    expect(ledger.report(1, 19_999)).toMatchObject({ allAcked: false, warmingUp: true, live: 0 });
    expect(ledger.report(1, 20_000)).toMatchObject({ allAcked: true, warmingUp: false });
  });

  it('drops a holder that said goodbye and merges other instances by the newest heartbeat', () => {
    const ledger = new AckLedger('g1', 3000, 0);
    ledger.heartbeat(h('a'), 3, 1000);
    expect(ledger.takeDirty()).toBe(true);
    expect(ledger.heartbeat(h('a'), 3, 1500)).toBe(false); // a renewal is no news
    ledger.release('a');
    expect(ledger.report(3, 1600).holders).toEqual([]);
    ledger.setRemote('g2', [
      { id: 'x', kind: 'dal', zone: 'ez-bj', epoch: 2, seenAt: 1000, leaseExpiresAt: 4000, via: 'g2' },
    ]);
    ledger.heartbeat({ id: 'x', kind: 'dal', zone: 'ez-bj' }, 3, 1200); // x moved to this instance
    expect(ledger.report(3, 1300)).toMatchObject({ allAcked: true, live: 1 });
    ledger.setRemote('g2', [
      { id: 'y', kind: 'dal', zone: 'ez-sh', epoch: 2, seenAt: 1250, leaseExpiresAt: 4250, via: 'g2' },
    ]);
    expect(ledger.report(3, 1300)).toMatchObject({ allAcked: false, waitingFor: ['y'] });
    ledger.setRemote('g2', undefined);
    expect(ledger.report(3, 1300).allAcked).toBe(true);
  });
});

describe('store specs', () => {
  it('parses file and ZooKeeper stores, and explains a bad one', () => {
    expect(parseStoreSpec('file:/var/gzs/t.json')).toEqual({ type: 'file', path: '/var/gzs/t.json' });
    expect(parseStoreSpec('zk:10.0.0.1:2181,10.0.0.2:2181/ezctl/c1/gzs')).toEqual({
      type: 'zk',
      connect: '10.0.0.1:2181,10.0.0.2:2181',
      path: '/ezctl/c1/gzs',
    });
    expect(parseStoreSpec('zk:127.0.0.1:2181')).toMatchObject({ path: '/ezctl/gzs' });
    expect(() => parseStoreSpec('zk:nohost/x')).toThrow(/expected zk:<host:port>/);
    expect(() => parseStoreSpec('zk:127.0.0.1:2181/a b')).toThrow(/bad ZooKeeper path/);
  });

  it('picks the launcher store from EZ_GZS_STORE', () => {
    expect(storeFor(topology, '/d', {})).toBe('file:/d/table.json');
    expect(storeFor(topology, '/d', { EZ_GZS_STORE: 'zk' })).toBe(
      `zk:127.0.0.1:${topology.deployment.zookeeper!.port}/ezctl/two-zones/gzs`,
    );
    expect(storeFor(topology, '/d', { EZ_GZS_STORE: 'zk:h:1/p' })).toBe('zk:h:1/p');
    expect(() => storeFor(topology, '/d', { EZ_GZS_STORE: 'redis' })).toThrow(/expected file, zk/);
  });
});
