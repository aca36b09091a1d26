/**
 * The ownership log (src/gzs/ownership.ts, doc.ts): the pure reader on hand-made answers (shards
 * moved twice, a lock window, times before retention), merging polled answers, and how GZS keeps
 * the log: it outlives the history, drops by time only, survives the znode budget, and is derived
 * for documents written before it existed.
 */
import { describe, expect, it } from 'vitest';
import type { Change } from '../../src/gzs/changes.js';
import { type GzsDoc, newDoc, nextDoc, ownerAt, ownerAtEpoch, parseDoc } from '../../src/gzs/doc.js';
import {
  deriveOwnership,
  mergeOwnership,
  type OwnershipAnswer,
  ownershipAnswer,
  ownershipView,
} from '../../src/gzs/ownership.js';
import { encodeOrderId } from '../../src/routing/order-id.js';
import { OwnershipAnswerSchema } from '../../src/shared/gzs-protocol.js';
import { loadTopology } from '../../src/topology/index.js';

const topology = loadTopology();
const DAY = 24 * 60 * 60 * 1000;

/**
 * Shard 1 moves twice (bj → sh at epoch 12, back at 15); shard 2 is locked at 13 and unlocked at 14
 * (a switch window); shard 3 never moves. The log begins at epoch 10 (t = 1000); GZS answered at
 * epoch 16, t = 5000.
 */
const answer: OwnershipAnswer = {
  epoch: 16,
  generation: 'g1',
  now: 5000,
  since: null,
  retainedFrom: { epoch: 10, at: 1000 },
  base: { epoch: 10, at: 1000, owners: { '1': 'ez-bj', '2': 'ez-sh', '3': 'ez-sh' }, locked: [3] },
  events: [
    { epoch: 12, at: 2000, shard: 1, from: 'ez-bj', to: 'ez-sh' },
    { epoch: 13, at: 2500, shard: 2, op: 'lock' },
    { epoch: 14, at: 2600, shard: 2, op: 'unlock' },
    { epoch: 15, at: 3000, shard: 1, from: 'ez-sh', to: 'ez-bj' },
  ],
};

describe('ownershipView (pure reader of GET /ownership)', () => {
  const v = ownershipView(answer);

  it('follows a shard moved twice, by time and by epoch', () => {
    expect(v.ownerAt(1, 1000)).toEqual({ zone: 'ez-bj', epoch: 10, locked: false });
    expect(v.ownerAt(1, 1999)).toEqual({ zone: 'ez-bj', epoch: 10, locked: false });
    expect(v.ownerAt(1, 2000)).toEqual({ zone: 'ez-sh', epoch: 12, locked: false });
    expect(v.ownerAt(1, 2999)).toEqual({ zone: 'ez-sh', epoch: 14, locked: false });
    expect(v.ownerAt(1, 3000)).toEqual({ zone: 'ez-bj', epoch: 15, locked: false });
    expect(v.ownerAt(1, 5000)).toEqual({ zone: 'ez-bj', epoch: 15, locked: false });
    expect(v.ownerAtEpoch(1, 10)?.zone).toBe('ez-bj');
    expect(v.ownerAtEpoch(1, 11)).toEqual({ zone: 'ez-bj', epoch: 10, locked: false });
    expect(v.ownerAtEpoch(1, 12)).toEqual({ zone: 'ez-sh', epoch: 12, locked: false });
    expect(v.ownerAtEpoch(1, 14)).toEqual({ zone: 'ez-sh', epoch: 14, locked: false });
    expect(v.ownerAtEpoch(1, 15)?.zone).toBe('ez-bj');
    expect(v.ownerAtEpoch(1, 16)).toEqual({ zone: 'ez-bj', epoch: 15, locked: false });
  });

  it('tells the lock window of a switch', () => {
    expect(v.ownerAt(2, 2499)).toEqual({ zone: 'ez-sh', epoch: 12, locked: false });
    expect(v.ownerAt(2, 2500)).toEqual({ zone: 'ez-sh', epoch: 13, locked: true });
    expect(v.ownerAt(2, 2599)?.locked).toBe(true);
    expect(v.ownerAt(2, 2600)).toEqual({ zone: 'ez-sh', epoch: 14, locked: false });
    expect(v.ownerAtEpoch(2, 13)?.locked).toBe(true);
    expect(v.ownerAtEpoch(2, 14)?.locked).toBe(false);
    expect(v.ownerAt(3, 4000)).toEqual({ zone: 'ez-sh', epoch: 15, locked: true }); // locked since the base
  });

  it('answers unknown (null), not a guess, outside what the log covers', () => {
    expect(v.ownerAt(1, 999)).toBeNull(); // before retention
    expect(v.ownerAtEpoch(1, 9)).toBeNull();
    expect(v.ownerAt(1, 5001)).toBeNull(); // after GZS's now: a change may have come since
    expect(v.ownerAtEpoch(1, 17)).toBeNull();
    expect(v.ownerAt(99, 3000)).toBeNull(); // a shard the log does not have
    expect(v.ownerAt(1, Number.NaN)).toBeNull();
    expect(v.retainedFrom).toEqual({ epoch: 10, at: 1000 });
  });

  it('applies a whole failover batch (one epoch) at once', () => {
    const owners = Object.fromEntries(Array.from({ length: 1024 }, (_, i) => [String(i), 'ez-bj']));
    const failover: OwnershipAnswer = {
      ...answer,
      epoch: 3,
      base: { epoch: 1, at: 0, owners, locked: [] },
      retainedFrom: { epoch: 1, at: 0 },
      events: [
        ...Array.from({ length: 1024 }, (_, i) => ({
          epoch: 2,
          at: 100,
          shard: i,
          from: 'ez-bj',
          to: 'ez-sh',
        })),
        { epoch: 3, at: 200, shard: 7, op: 'lock' as const },
      ],
    };
    const f = ownershipView(failover);
    expect(f.ownerAt(1023, 99)?.zone).toBe('ez-bj');
    for (const s of [0, 7, 512, 1023])
      expect(f.ownerAt(s, 100)).toEqual({ zone: 'ez-sh', epoch: 2, locked: false });
    expect(f.ownerAt(7, 200)).toEqual({ zone: 'ez-sh', epoch: 3, locked: true });
  });

  it("reads times that go backwards (another host's clock) as no earlier than the epoch before", () => {
    const skewed: OwnershipAnswer = {
      ...answer,
      epoch: 15,
      events: [
        { epoch: 12, at: 2000, shard: 1, from: 'ez-bj', to: 'ez-sh' },
        { epoch: 13, at: 1500, shard: 2, op: 'lock' },
        { epoch: 14, at: 1600, shard: 1, from: 'ez-sh', to: 'ez-bj' },
        { epoch: 15, at: 3000, shard: 2, op: 'unlock' },
      ],
    };
    const s = ownershipView(skewed);
    // epochs 13 and 14 count as begun at 2000 (with epoch 12), not at 1500/1600
    expect(s.ownerAt(1, 1700)).toEqual({ zone: 'ez-bj', epoch: 10, locked: false });
    expect(s.ownerAt(2, 1700)).toEqual({ zone: 'ez-sh', epoch: 10, locked: false });
    expect(s.ownerAt(2, 2000)).toEqual({ zone: 'ez-sh', epoch: 14, locked: true });
  });

  it('refuses an answer without its base (asked with since=): merge it first', () => {
    expect(() => ownershipView({ ...answer, base: null, since: 12 })).toThrow(/mergeOwnership/);
  });
});

describe('mergeOwnership (a polled copy)', () => {
  it('continues a full answer with the events newer than it, and folds what GZS folded', () => {
    const first: OwnershipAnswer = { ...answer, epoch: 13, events: answer.events.slice(0, 2) };
    const next: OwnershipAnswer = {
      ...answer,
      since: 13,
      base: null,
      events: answer.events.slice(2),
    };
    const merged = mergeOwnership(first, next);
    expect(merged.base).toEqual(answer.base);
    expect(merged.events).toEqual(answer.events);
    expect(merged.epoch).toBe(16);
    const v = ownershipView(merged);
    expect(v.ownerAt(1, 3000)?.zone).toBe('ez-bj');
    expect(v.ownerAt(2, 2550)?.locked).toBe(true);
    // GZS has folded everything up to epoch 13 into its base meanwhile
    const later: OwnershipAnswer = { ...next, retainedFrom: { epoch: 13, at: 2500 } };
    const folded = mergeOwnership(first, later);
    expect(folded.base).toEqual({
      epoch: 13,
      at: 2500,
      owners: { '1': 'ez-sh', '2': 'ez-sh', '3': 'ez-sh' },
      locked: [2, 3],
    });
    expect(folded.events).toEqual(answer.events.slice(2));
    expect(ownershipView(folded).ownerAt(1, 2499)).toBeNull();
    expect(ownershipView(folded).ownerAt(1, 3000)?.zone).toBe('ez-bj');
  });

  it('takes a full answer as is, and refuses a gap or another generation', () => {
    expect(mergeOwnership(answer, answer)).toBe(answer);
    const partial: OwnershipAnswer = { ...answer, base: null, since: 20, epoch: 22, events: [] };
    expect(() => mergeOwnership(answer, partial)).toThrow(/ask with since=16/);
    expect(() => mergeOwnership(answer, { ...partial, since: 16, generation: 'g2' })).toThrow(/re-created/);
  });
});

/** A document after `steps` (each: [changes, now]). */
function docAfter(
  steps: [Change[], number][],
  opts: Parameters<typeof nextDoc>[2] = {},
  start = 1000,
): GzsDoc {
  let doc = newDoc(topology, start);
  for (const [changes, now] of steps) doc = nextDoc(doc, changes, { ...opts, now }).doc;
  return doc;
}

const orderIds = (n: number, t0 = Date.UTC(2026, 5, 1)) =>
  Array.from({ length: n }, (_, i) =>
    encodeOrderId({ timestampMs: t0 + Math.floor(i / 4096), shard: i % 1024, sequence: i % 4096 }),
  );

describe('the ownership log GZS keeps', () => {
  it('outlives any number of other changes: the history is pushed out, the owner change stays exact', () => {
    let doc = docAfter([[[{ op: 'owner', shard: 0, zone: 'ez-sh' }], 2000]]); // epoch 2
    for (let i = 0; i < 1500; i++) {
      const state = i % 2 === 0 ? 'down' : 'active';
      doc = nextDoc(doc, [{ op: 'zone', zone: 'ez-sh', state }], { now: 3000 + i }).doc;
    }
    // one batch large enough to push the rest of the history out by bytes
    const ids = orderIds(4000);
    doc = nextDoc(
      doc,
      ids.map((orderId) => ({ op: 'order-lock', orderId, reason: 'failover' })),
      { now: 9000 },
    ).doc;
    expect(doc.history.map((h) => h.epoch)).toEqual([doc.table.epoch]);
    const at = 1_000_000;
    expect(ownerAt(doc, 0, 1999, at)).toMatchObject({ zone: 'ez-bj', epoch: 1, exact: true });
    expect(ownerAt(doc, 0, 2000, at)).toMatchObject({ zone: 'ez-sh', epoch: 2, exact: true });
    expect(ownerAtEpoch(doc, 0, 1)).toEqual({ zone: 'ez-bj', exact: true });
    expect(ownerAtEpoch(doc, 0, 2)).toEqual({ zone: 'ez-sh', exact: true });
    // without the log, from the history alone, epoch 1 is no longer known
    expect(ownerAtEpoch({ table: doc.table, history: doc.history }, 0, 1)).toEqual({
      zone: null,
      exact: false,
    });
    expect(doc.ownership.entries).toEqual([{ epoch: 2, at: 2000, owner: { 'ez-sh': [0] } }]);
  });

  it('records the net effect of each batch, compactly, and lock/unlock of shards', () => {
    const doc = docAfter([
      [[{ op: 'lock', shard: 3, reason: 'move' }], 2000], // epoch 2
      [
        [
          { op: 'owner', shard: 3, zone: 'ez-bj' },
          { op: 'unlock', shard: 3 },
        ],
        3000,
      ], // epoch 3: step 4 of a move
      [
        [
          { op: 'lock', shard: 4 },
          { op: 'unlock', shard: 4 },
        ],
        4000,
      ], // epoch 4: nobody saw shard 4 locked
      [[{ op: 'zone', zone: 'ez-bj', state: 'down' }], 5000], // epoch 5: not ownership
    ]);
    expect(doc.ownership.epoch).toBe(5);
    expect(doc.ownership.entries).toEqual([
      { epoch: 2, at: 2000, lock: [3] },
      { epoch: 3, at: 3000, owner: { 'ez-bj': [3] }, unlock: [3] },
    ]);
    const a = ownershipAnswer(doc.ownership, doc.generation, null, 6000);
    expect(OwnershipAnswerSchema.safeParse(a).success).toBe(true);
    expect(a.events).toEqual([
      { epoch: 2, at: 2000, shard: 3, op: 'lock' },
      { epoch: 3, at: 3000, shard: 3, from: 'ez-sh', to: 'ez-bj' },
      { epoch: 3, at: 3000, shard: 3, op: 'unlock' },
    ]);
    expect(a.base).toMatchObject({ epoch: 1, at: 1000, locked: [] });
    expect(a.base!.owners['3']).toBe('ez-sh');
    // since within what is retained: only newer events, no base
    const b = ownershipAnswer(doc.ownership, doc.generation, 2, 6000);
    expect(b).toMatchObject({ since: 2, base: null, retainedFrom: { epoch: 1, at: 1000 }, epoch: 5 });
    expect(b.events.map((e) => e.epoch)).toEqual([3, 3]);
    expect(ownershipAnswer(doc.ownership, doc.generation, 0, 6000).base).not.toBeNull(); // below retention
    // the partial answer continues the full one it was asked after
    const full2 = ownershipAnswer(doc.ownership, doc.generation, null, 6000);
    const early = { ...full2, epoch: 2, events: full2.events.slice(0, 1) };
    expect(mergeOwnership(early, b).events).toEqual(full2.events);
  });

  it('records a move of a locked shard that stays locked as an owner change only', () => {
    const doc = docAfter([
      [[{ op: 'lock', shard: 3 }], 2000], // epoch 2
      [
        [
          { op: 'owner', shard: 3, zone: 'ez-bj' },
          { op: 'lock', shard: 3, reason: 'again' },
        ],
        3000,
      ], // epoch 3: still locked
    ]);
    expect(doc.ownership.entries).toEqual([
      { epoch: 2, at: 2000, lock: [3] },
      { epoch: 3, at: 3000, owner: { 'ez-bj': [3] } },
    ]);
    expect(ownerAt(doc, 3, 3000, 9000)).toMatchObject({ zone: 'ez-bj', locked: true, epoch: 3 });
  });

  it('drops owner changes by time only: older than the retention they fold into the base', () => {
    const retention = 30 * DAY;
    const t0 = Date.UTC(2026, 0, 1);
    const doc = docAfter(
      [
        [[{ op: 'owner', shard: 0, zone: 'ez-sh' }], t0 + 1 * DAY], // epoch 2
        [[{ op: 'lock', shard: 1 }], t0 + 2 * DAY], // epoch 3
        [[{ op: 'owner', shard: 0, zone: 'ez-bj' }], t0 + 40 * DAY], // epoch 4
        [[{ op: 'zone', zone: 'ez-sh', state: 'down' }], t0 + 45 * DAY], // epoch 5: trims (cutoff day 15)
      ],
      { ownershipRetentionMs: retention },
      t0,
    );
    expect(doc.ownership.base).toMatchObject({ epoch: 3, at: t0 + 2 * DAY, locked: [1] });
    expect(doc.ownership.base.owners['0']).toBe('ez-sh');
    expect(doc.ownership.entries.map((e) => e.epoch)).toEqual([4]);
    const now = t0 + 45 * DAY;
    // everything since now - retention (and a little more: since the base) is exact
    expect(ownerAt(doc, 0, now - retention, now)).toMatchObject({
      zone: 'ez-sh',
      locked: false,
      exact: true,
    });
    expect(ownerAt(doc, 1, t0 + 2 * DAY, now)).toMatchObject({ zone: 'ez-sh', locked: true, epoch: 3 });
    expect(ownerAt(doc, 0, t0 + 40 * DAY, now)).toMatchObject({ zone: 'ez-bj', epoch: 4, exact: true });
    // before the base: unknown
    expect(ownerAt(doc, 0, t0 + 1 * DAY, now)).toMatchObject({ zone: null, exact: false });
    expect(ownerAtEpoch(doc, 0, 2)).toEqual({ zone: null, exact: false });
    expect(ownerAtEpoch(doc, 0, 3)).toEqual({ zone: 'ez-sh', exact: true });
  });

  it('keeps epochs in time order even when the clock steps back', () => {
    const doc = docAfter([
      [[{ op: 'owner', shard: 0, zone: 'ez-sh' }], 5000],
      [[{ op: 'owner', shard: 0, zone: 'ez-bj' }], 4000], // the clock stepped back 1 s
    ]);
    expect(doc.ownership.entries.map((e) => e.at)).toEqual([5000, 5000]);
    expect(ownerAt(doc, 0, 4500, 10_000)).toMatchObject({ zone: 'ez-bj', epoch: 1 });
    expect(ownerAt(doc, 0, 5000, 10_000)).toMatchObject({ zone: 'ez-bj', epoch: 3 });
  });

  it('trims the history, never the ownership log, to fit the store (a ZooKeeper znode)', () => {
    const base = docAfter([[[{ op: 'owner', shard: 0, zone: 'ez-sh' }], 2000]]);
    const ids = orderIds(3000);
    const big = ids.map((orderId): Change => ({ op: 'order-lock', orderId, reason: 'failover' }));
    const free = nextDoc(base, big, { now: 3000 }).doc;
    const size = (d: GzsDoc) => Buffer.byteLength(JSON.stringify(d));
    const budget = size(free) - 1000; // the history entry of the big batch no longer fits
    const fitted = nextDoc(base, big, { now: 3000, maxBytes: budget }).doc;
    expect(size(fitted)).toBeLessThanOrEqual(budget);
    expect(fitted.history).toEqual([]);
    expect(fitted.ownership).toEqual(free.ownership);
    expect(Object.keys(fitted.table.orderLocks)).toHaveLength(3000);
    // a budget the table and the log alone exceed: nothing of the log goes (the store refuses)
    const tiny = nextDoc(base, [{ op: 'lock', shard: 9 }], { now: 4000, maxBytes: 100 }).doc;
    expect(tiny.ownership.entries.map((e) => e.epoch)).toEqual([2, 3]);
    expect(tiny.history).toEqual([]);
  });
});

describe('documents written before the ownership log (format ezctl-gzs/1 without it)', () => {
  /** A document as the older GZS wrote it: no `ownership`. */
  const oldDoc = (doc: GzsDoc): string => {
    const { ownership: _, ...rest } = doc;
    return JSON.stringify(rest);
  };

  it('load with a log derived from the history: exact from epoch 1 when the history reaches it', () => {
    const doc = docAfter([
      [[{ op: 'lock', shard: 3 }], 2000],
      [
        [
          { op: 'owner', shard: 3, zone: 'ez-bj' },
          { op: 'unlock', shard: 3 },
        ],
        3000,
      ],
      [[{ op: 'order-lock', orderId: orderIds(1)[0], reason: 'x' }], 4000],
    ]);
    const loaded = parseDoc(oldDoc(doc), 'old.json');
    expect(loaded.ownership).toEqual(doc.ownership);
    expect(ownerAt(loaded, 3, 1500, 10_000)).toMatchObject({ zone: 'ez-sh', epoch: 1, exact: true });
    expect(ownerAt(loaded, 3, 2500, 10_000)).toMatchObject({ zone: 'ez-sh', locked: true, exact: true });
  });

  it('load with a log that starts at the oldest history entry kept when it does not reach epoch 1', () => {
    let doc = docAfter([[[{ op: 'owner', shard: 0, zone: 'ez-sh' }], 2000]]);
    for (let i = 0; i < 5; i++) doc = nextDoc(doc, [{ op: 'lock', shard: 10 + i }], { now: 3000 + i }).doc;
    const old = { ...doc, history: doc.history.slice(2) }; // epochs 4..7 kept
    const loaded = parseDoc(oldDoc(old), 'old.json');
    expect(loaded.ownership.base).toMatchObject({ epoch: 4, at: 3001, locked: [10, 11] });
    expect(loaded.ownership.base.owners['0']).toBe('ez-sh');
    expect(ownerAt(loaded, 0, 2500, 10_000)).toMatchObject({ zone: null, exact: false });
    expect(ownerAt(loaded, 12, 3002, 10_000)).toMatchObject({ locked: true, epoch: 5, exact: true });
    expect(ownerAt(loaded, 12, 3001, 10_000)).toMatchObject({ locked: false, epoch: 4, exact: true });
  });

  it('catch up a log an older instance left behind, from the history, or derive it again', () => {
    const doc = docAfter([
      [[{ op: 'owner', shard: 0, zone: 'ez-sh' }], 2000], // epoch 2, in the log
      [[{ op: 'owner', shard: 1, zone: 'ez-bj' }], 3000], // epoch 3
    ]);
    // an older GZS committed epoch 3 and kept the log of epoch 2 as it was
    const behind = {
      ...doc,
      ownership: { ...doc.ownership, epoch: 2, entries: doc.ownership.entries.slice(0, 1) },
    };
    expect(parseDoc(JSON.stringify(behind), 'x').ownership).toEqual(doc.ownership);
    // ...and its history no longer covers the gap
    const gap = { ...behind, history: [] };
    const derived = parseDoc(JSON.stringify(gap), 'x').ownership;
    expect(derived.epoch).toBe(3);
    expect(derived.entries).toEqual([]);
    expect(derived.base.owners['1']).toBe('ez-bj');
  });

  it('keeps a stored log as stored', () => {
    const doc = docAfter([[[{ op: 'owner', shard: 0, zone: 'ez-sh' }], 2000]]);
    expect(parseDoc(JSON.stringify(doc), 'x')).toEqual(doc);
    expect(deriveOwnership(doc.table, doc.history, doc.createdAt, 0)).toEqual(doc.ownership);
  });
});

describe('ownerAtEpoch over an answer of GET /ownership (the routing checker)', () => {
  it('answers from the log, exact within it', () => {
    expect(ownerAtEpoch(answer, 1, 12)).toEqual({ zone: 'ez-sh', exact: true });
    expect(ownerAtEpoch(answer, 1, 9)).toEqual({ zone: null, exact: false });
    expect(ownerAtEpoch(answer, 2, 17)).toEqual({ zone: null, exact: false });
  });
});
