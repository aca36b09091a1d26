import { describe, expect, it } from 'vitest';
import {
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
    expect(noLostOrder(h, rows)).toMatchObject({ verdict: 'ok', ok: true, checked: 2 });
    expect(validLifecycle(h, rows)).toMatchObject({ verdict: 'ok', ok: true, checked: 2 });
    expect(routingCorrectness(h, () => 'ez-bj')).toMatchObject({ verdict: 'ok', ok: true, checked: 3 });
    expect(routingCorrectness(h, () => 'ez-bj').unjudged).toBeUndefined();
  });

  it('report unknown, never ok, when there was nothing to examine', () => {
    const none = new History();
    none.record(op({ kind: 'create', result: 'info', error: 'EZ_CLIENT_ECONNREFUSED' }));
    const rows = zones([], []);
    for (const r of [
      noLostOrder(none, rows),
      validLifecycle(none, rows),
      routingCorrectness(none, () => 'ez-bj'),
    ])
      expect(r).toMatchObject({ verdict: 'unknown', ok: false, checked: 0, violations: [] });
    expect(noLostOrder(none, rows).reason).toBe('no order creation was acknowledged');
    expect(routingCorrectness(none, () => 'ez-bj').reason).toBe('no request was acknowledged');
  });

  it('report unknown when an eZone could not be read, fail when a read one breaks the invariant', () => {
    const bj = zones([row('1', 'accepted', 2), row('2', 'placed', 1)], []);
    delete (bj as Record<string, unknown>)['ez-sh'];
    const unread = { 'ez-sh': 'ECONNREFUSED' };
    expect(noLostOrder(h, bj, unread)).toMatchObject({
      verdict: 'unknown',
      reason: 'could not read ez-sh (ECONNREFUSED)',
    });
    expect(validLifecycle(h, bj, unread)).toMatchObject({ verdict: 'unknown', checked: 2 });
    const lost = zones([row('1', 'accepted', 2)], []);
    delete (lost as Record<string, unknown>)['ez-sh'];
    expect(noLostOrder(h, lost, unread)).toMatchObject({
      verdict: 'fail',
      violations: ['order 2 acknowledged but missing in ez-bj'],
    });
    expect(noLostOrder(h, {}, unread)).toMatchObject({
      verdict: 'unknown',
      reason: 'no eZone could be read',
    });
  });

  it('find an acknowledged order missing in one eZone', () => {
    const r = noLostOrder(
      h,
      zones([row('1', 'accepted', 2), row('2', 'placed', 1)], [row('1', 'accepted', 2)]),
    );
    expect(r.ok).toBe(false);
    expect(r.violations).toEqual(['order 2 acknowledged but missing in ez-sh']);
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
    u.record(op({ kind: 'accept', orderId: '5', result: 'info', error: 'EZ_CLIENT_HEADERS_TIMEOUT' }));
    expect(validLifecycle(u, zones([row('5', 'accepted', 2)], [row('5', 'placed', 1)])).ok).toBe(true);
  });

  it('still check the stored state when a step has an unknown outcome', () => {
    // placed → accepted acknowledged, pickup unknown: stored may be accepted/v2 or picked_up/v3
    const u = new History();
    for (const o of lifeOf('6', ['placed', 'accepted'])) u.record(o);
    u.record(op({ kind: 'pickup', orderId: '6', result: 'info', error: 'EZ_CLIENT_ECONNRESET' }));
    const check = (stored: StoredOrder) => validLifecycle(u, zones([stored], []));
    expect(check(row('6', 'accepted', 2)).verdict).toBe('ok');
    expect(check(row('6', 'picked_up', 3)).verdict).toBe('ok');
    // a state no unknown step leads to
    expect(check(row('6', 'delivered', 4))).toMatchObject({
      verdict: 'fail',
      violations: [
        'order 6 in ez-bj: stored delivered, last acknowledged accepted (or picked_up after 1 unknown step(s))',
      ],
    });
    expect(check(row('6', 'cancelled', 3)).verdict).toBe('fail');
    // an acknowledged step undone
    expect(check(row('6', 'placed', 1)).verdict).toBe('fail');
    // the unknown step applied twice
    expect(check(row('6', 'picked_up', 4)).violations[0]).toMatch(/version 4, expected 3/);
    // a refused step must not have happened, even next to an unknown one
    const r = new History();
    for (const o of lifeOf('7', ['placed'])) r.record(o);
    r.record(op({ kind: 'accept', orderId: '7', result: 'info', error: 'EZ_CLIENT_ECONNRESET' }));
    r.record(op({ kind: 'cancel', orderId: '7', result: 'fail', status: 409, error: 'EZ_CONFLICT' }));
    expect(validLifecycle(r, zones([row('7', 'cancelled', 2)], [])).verdict).toBe('fail');
    expect(validLifecycle(r, zones([row('7', 'accepted', 2)], [])).verdict).toBe('ok');
  });

  it('find a request served by an eZone that did not own the shard at its epoch', () => {
    const r = routingCorrectness(h, (shard, epoch) => (shard === 0 && epoch === 1 ? 'ez-sh' : null));
    expect(r).toMatchObject({ verdict: 'fail', ok: false });
    expect(r.violations[0]).toMatch(/served by ez-bj, owner of shard 0 at epoch 1 is ez-sh/);
  });

  it('count requests whose epoch GZS history no longer reaches as unjudged, not as checked', () => {
    const mixed = new History();
    for (const o of lifeOf('8', ['placed', 'accepted'])) mixed.record(o);
    mixed.record(op({ kind: 'pickup', orderId: '8', state: 'picked_up', zone: 'ez-bj', shard: 0, epoch: 5 }));
    // epoch 1 is older than the history reaches; epoch 5 is known
    const ownerAt = (_shard: number, epoch: number) => (epoch >= 5 ? 'ez-bj' : null);
    expect(routingCorrectness(mixed, ownerAt)).toMatchObject({ verdict: 'ok', checked: 1, unjudged: 2 });
    const none = routingCorrectness(h, () => null);
    expect(none).toMatchObject({ verdict: 'unknown', ok: false, checked: 0, unjudged: 3 });
    expect(none.reason).toMatch(/does not reach the epoch of any of the 3 acknowledged requests/);
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
