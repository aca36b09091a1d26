import { describe, expect, it } from 'vitest';
import {
  convergence,
  noLostOrder,
  routingCorrectness,
  type StoredOrder,
  validLifecycle,
  type ZoneRows,
} from '../../harness/workload/checker.js';
import { History, type Op } from '../../harness/workload/history.js';
import { ownerAtEpoch } from '../../src/gzs/doc.js';

const op = (o: Partial<Op> & Pick<Op, 'kind'>): Op => ({ tag: 'x', result: 'ok', startedAt: 0, ms: 1, ...o });
const row = (id: string, state: string, version: number, updatedAt = 't1'): StoredOrder => ({
  id,
  state,
  version,
  updatedAt,
});
const zones = (bj: StoredOrder[], sh: StoredOrder[]): ZoneRows => ({
  'ez-bj': new Map(bj.map((r) => [r.id, r])),
  'ez-sh': new Map(sh.map((r) => [r.id, r])),
});

function lifeOf(id: string, states: string[], extra: Partial<Op> = {}): Op[] {
  const kinds = ['create', 'accept', 'pickup', 'deliver'] as const;
  return states.map((state, i) =>
    op({ kind: kinds[i], orderId: id, state, zone: 'ez-bj', shard: 0, epoch: 1, ...extra }),
  );
}

describe('workload checkers', () => {
  const h = new History();
  for (const o of [...lifeOf('1', ['placed', 'accepted']), ...lifeOf('2', ['placed'])]) h.record(o);

  it('pass on a history the databases agree with', () => {
    const rows = zones(
      [row('1', 'accepted', 2), row('2', 'placed', 1)],
      [row('1', 'accepted', 2), row('2', 'placed', 1)],
    );
    expect(noLostOrder(h, rows)).toMatchObject({ ok: true, checked: 2 });
    expect(convergence(h, rows).ok).toBe(true);
    expect(validLifecycle(h, rows).ok).toBe(true);
    expect(routingCorrectness(h, () => 'ez-bj')).toMatchObject({ ok: true, checked: 3 });
  });

  it('find an acknowledged order missing in one eZone', () => {
    const r = noLostOrder(
      h,
      zones([row('1', 'accepted', 2), row('2', 'placed', 1)], [row('1', 'accepted', 2)]),
    );
    expect(r.ok).toBe(false);
    expect(r.violations).toEqual(['order 2 acknowledged but missing in ez-sh']);
  });

  it('find eZones that differ', () => {
    const r = convergence(
      h,
      zones([row('1', 'accepted', 2), row('2', 'placed', 1)], [row('1', 'placed', 1), row('2', 'placed', 1)]),
    );
    expect(r.violations[0]).toMatch(/order 1 differs: ez-bj=accepted\/v2@t1 ez-sh=placed\/v1@t1/);
  });

  it('find a step applied twice, a lost step and an impossible path', () => {
    const twice = validLifecycle(h, zones([row('1', 'accepted', 3), row('2', 'placed', 1)], []));
    expect(twice.violations[0]).toMatch(/order 1 in ez-bj: version 3, expected 2/);
    const lost = validLifecycle(h, zones([row('1', 'placed', 1), row('2', 'placed', 1)], []));
    expect(lost.violations.join()).toMatch(/stored placed, last acknowledged accepted/);
    const bad = new History();
    for (const o of lifeOf('9', ['placed', 'delivered'])) bad.record(o);
    expect(validLifecycle(bad, zones([row('9', 'delivered', 2)], [])).violations[0]).toMatch(/not a path/);
  });

  it('allow one more step when its outcome is unknown', () => {
    const u = new History();
    for (const o of lifeOf('5', ['placed'])) u.record(o);
    u.record(op({ kind: 'accept', orderId: '5', result: 'info', error: 'UND_ERR_HEADERS_TIMEOUT' }));
    expect(validLifecycle(u, zones([row('5', 'accepted', 2)], [row('5', 'placed', 1)])).ok).toBe(true);
  });

  it('find a request served by an eZone that did not own the shard at its epoch', () => {
    const r = routingCorrectness(h, (shard, epoch) => (shard === 0 && epoch === 1 ? 'ez-sh' : null));
    expect(r.ok).toBe(false);
    expect(r.violations[0]).toMatch(/served by ez-bj, owner of shard 0 at epoch 1 is ez-sh/);
  });

  it('reconstruct the owner of a shard at an older epoch from GZS history', () => {
    const table = { epoch: 4, shards: { '0': { zone: 'ez-sh', state: 'serving' } } } as any;
    const history = [
      { epoch: 2, at: 1, changes: [{ op: 'lock', shard: 0, from: 'serving' }] },
      { epoch: 3, at: 2, changes: [{ op: 'owner', shard: 0, zone: 'ez-sh', from: 'ez-bj' }] },
      { epoch: 4, at: 3, changes: [{ op: 'unlock', shard: 0, from: 'locked' }] },
    ] as any;
    expect(ownerAtEpoch({ table, history }, 0, 4)).toEqual({ zone: 'ez-sh', exact: true });
    expect(ownerAtEpoch({ table, history }, 0, 3)).toEqual({ zone: 'ez-sh', exact: true });
    expect(ownerAtEpoch({ table, history }, 0, 2)).toEqual({ zone: 'ez-bj', exact: true });
    expect(ownerAtEpoch({ table, history }, 0, 1)).toEqual({ zone: 'ez-bj', exact: true });
    expect(ownerAtEpoch({ table, history: history.slice(2) }, 0, 1)).toEqual({ zone: null, exact: false });
  });
});
