/**
 * Order-lock rules (DESIGN §6 failover): a rule per shard locks the orders made before a time (read
 * from the id), releases one by one, cleared per failed eZone; the write guard and the table's
 * size with 100,000 locked orders.
 */
import { describe, expect, it } from 'vitest';
import { applyChanges, BatchSchema, parseOr400 } from '../../src/gzs/changes.js';
import { GzsError } from '../../src/gzs/errors.js';
import { checkWrite, encodeOrderId, orderLockOf, shardOrderLockOf } from '../../src/routing/index.js';
import { initialTable, type RoutingTable } from '../../src/routing/table.js';
import { RoutingTableSchema } from '../../src/shared/gzs-protocol.js';
import { loadTopology } from '../../src/topology/index.js';

const topology = loadTopology();
const base = initialTable(topology);
const T = Date.UTC(2026, 11, 2, 12, 0, 0);
const shardOf = (zone: string) => [...topology.shards].find(([, z]) => z === zone)![0];
const S = shardOf('ez-bj');
const OTHER = [...topology.shards].filter(([, z]) => z === 'ez-bj')[1][0];
const id = (msBefore: number, shard = S, sequence = 0) =>
  encodeOrderId({ timestampMs: T - msBefore, shard, sequence });

function failedOver(): RoutingTable {
  return applyChanges(
    base,
    [
      { op: 'owner', shard: S, zone: 'ez-sh' },
      {
        op: 'order-lock-rule',
        shard: S,
        zone: 'ez-bj',
        createdBeforeMs: T,
        reason: 'failover ez-bj -> ez-sh',
      },
    ],
    T,
  ).table;
}

function gzsError(fn: () => unknown): GzsError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GzsError) return err;
    throw err;
  }
  throw new Error('expected a GzsError');
}

describe('order-lock rules', () => {
  it('lock every order of the shard made before the rule, none made after, none of other shards', () => {
    const t = failedOver();
    expect(orderLockOf(t, id(1))?.reason).toMatch(
      /^failover ez-bj -> ez-sh: made before 2026-12-02T12:00:00.000Z/,
    );
    expect(orderLockOf(t, id(30 * 86_400_000))).toBeDefined();
    expect(orderLockOf(t, id(0))).toBeUndefined(); // made at the rule's time: new
    expect(orderLockOf(t, id(-5))).toBeUndefined();
    expect(orderLockOf(t, id(1, OTHER))).toBeUndefined();
    expect(orderLockOf(t, 'not-an-id')).toBeUndefined();
    const v = checkWrite(t, 'ez-sh', S, id(1));
    expect(v.ok).toBe(false);
    expect(!v.ok && v.code).toBe('EZ_LOCKED');
    expect(!v.ok && v.message).toMatch(new RegExp(`^EZ_LOCKED order=${id(1)} epoch=${t.epoch} \\(failover`));
    expect(checkWrite(t, 'ez-sh', S, id(-1)).ok).toBe(true);
    expect(shardOrderLockOf(t, S)).toMatch(/a rule \(failover ez-bj -> ez-sh\) locks its orders made before/);
    expect(shardOrderLockOf(t, OTHER)).toBeUndefined();
    expect(shardOrderLockOf(base, S)).toBeUndefined();
  });

  it('release single orders (recorded, 404 when not locked) and clear per failed eZone', () => {
    const t = failedOver();
    const r = applyChanges(t, [{ op: 'order-lock-release', orderId: id(1), reason: 'ticket 1' }], T + 10);
    expect(r.applied).toEqual([
      { op: 'order-lock-release', orderId: id(1), reason: 'ticket 1', from: 'rule' },
    ]);
    expect(orderLockOf(r.table, id(1))).toBeUndefined();
    expect(orderLockOf(r.table, id(2))).toBeDefined();
    expect(orderLockOf(t, id(1))).toBeDefined(); // copy-on-write: the old table is untouched
    expect(
      gzsError(() => applyChanges(r.table, [{ op: 'order-lock-release', orderId: id(1), reason: 'x' }], T))
        .message,
    ).toMatch(/is not locked .*released already/);
    expect(
      gzsError(() => applyChanges(t, [{ op: 'order-lock-release', orderId: id(-1), reason: 'x' }], T)).code,
    ).toBe('EZ_NO_ORDER_LOCK');
    // an explicit lock is released the same way
    const ex = applyChanges(base, [{ op: 'order-lock', orderId: id(1), reason: 'by hand' }], T).table;
    const exr = applyChanges(ex, [{ op: 'order-lock-release', orderId: id(1), reason: 'done' }], T);
    expect(exr.applied[0]).toMatchObject({ from: 'explicit' });
    expect(exr.table.orderLocks).toEqual({});

    const other = applyChanges(r.table, [{ op: 'order-lock-rule-clear', zone: 'ez-sh', reason: 'x' }], T);
    expect(other.applied).toEqual([]); // ez-sh left no rule: a no-op, epoch not bumped
    expect(other.table).toBe(r.table);
    const c = applyChanges(
      r.table,
      [{ op: 'order-lock-rule-clear', zone: 'ez-bj', reason: 'tail applied' }],
      T,
    );
    expect(c.applied).toEqual([
      { op: 'order-lock-rule-clear', zone: 'ez-bj', shards: [S], reason: 'tail applied' },
    ]);
    expect(c.table.orderLockRules).toEqual({});
    expect(orderLockOf(c.table, id(2))).toBeUndefined();
  });

  it('a second failover of the shard widens the rule and keeps its releases', () => {
    const t = applyChanges(
      failedOver(),
      [{ op: 'order-lock-release', orderId: id(5), reason: 'r' }],
      T,
    ).table;
    const w = applyChanges(
      t,
      [{ op: 'order-lock-rule', shard: S, zone: 'ez-bj', createdBeforeMs: T + 60_000, reason: 'again' }],
      T + 60_000,
    ).table;
    expect(w.orderLockRules![S]).toMatchObject({ createdBeforeMs: T + 60_000, since: T });
    expect(orderLockOf(w, id(-30_000))).toBeDefined();
    expect(orderLockOf(w, id(5))).toBeUndefined();
  });

  it('refuses bad rule changes with the field named', () => {
    const bad = (c: object) => gzsError(() => parseOr400(BatchSchema, { changes: [c] })).message;
    expect(
      bad({ op: 'order-lock-rule', shard: S, zone: 'ez-bj', createdBeforeMs: 'soon', reason: 'x' }),
    ).toMatch(/createdBeforeMs/);
    expect(bad({ op: 'order-lock-release', orderId: '007', reason: 'x' })).toMatch(/orderId/);
    expect(bad({ op: 'order-lock-release', orderId: id(1) })).toMatch(/reason/);
    expect(bad({ op: 'order-lock-rules' })).toMatch(
      /unknown op "order-lock-rules" \(expected .*order-lock-rule-clear\)/,
    );
    expect(
      gzsError(() =>
        applyChanges(
          base,
          [{ op: 'order-lock-rule', shard: S, zone: 'ez-xx', createdBeforeMs: T, reason: 'x' }],
          T,
        ),
      ).code,
    ).toBe('EZ_UNKNOWN_ZONE');
  });

  it('hold 100,000 locked orders in a few hundred bytes per shard, and tables stored without rules still parse', () => {
    const mine = [...topology.shards].filter(([, z]) => z === 'ez-bj').map(([s]) => s);
    const t = applyChanges(
      base,
      mine.flatMap((shard) => [
        { op: 'owner' as const, shard, zone: 'ez-sh' },
        { op: 'order-lock-rule' as const, shard, zone: 'ez-bj', createdBeforeMs: T, reason: 'failover' },
      ]),
      T,
    ).table;
    let locked = 0;
    for (let i = 0; i < 100_000; i++) {
      const shard = mine[i % mine.length];
      if (orderLockOf(t, id(1 + Math.floor(i / mine.length), shard, i % 4096))) locked++;
    }
    expect(locked).toBe(100_000);
    const bytes = JSON.stringify(t).length - JSON.stringify(base).length;
    expect(bytes).toBeLessThan(mine.length * 200);
    const { orderLockRules: _, ...old } = base;
    expect(RoutingTableSchema.safeParse(old).success).toBe(true);
    expect(RoutingTableSchema.safeParse(t).success).toBe(true);
  });
});
