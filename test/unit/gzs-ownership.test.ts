/**
 * The ownership log (src/gzs/ownership.ts): the pure reader on hand-made answers (shards moved
 * twice, a lock window, times before retention) and merging polled answers.
 */
import { describe, expect, it } from 'vitest';
import { mergeOwnership, type OwnershipAnswer, ownershipView } from '../../src/gzs/ownership.js';

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
