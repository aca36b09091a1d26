// Convergence over whole replicated tables: per-table, per-eZone digests of hand-made rows, and
// the evidence (first differing primary keys) when eZones differ.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compareDigests, digestRows } from '../../harness/checkers/digest.js';
import { convergence, type TableDigests } from '../../harness/workload/checker.js';

const pk = { primaryKey: ['id'] };
const order = (id: number, state = 'placed', version = 1) => ({
  id: String(id),
  state,
  version,
  updated_at: '2026-01-01 00:00:00.000001',
  drc_origin: 1,
});
const users = [
  { id: 'u-1', phone: '+86-1', version: 1, updated_at: '2026-01-01 00:00:00.000000', drc_origin: 1 },
];
const zones = ['ez-bj', 'ez-sh'];

function tables(bj: ReturnType<typeof order>[], sh: ReturnType<typeof order>[]): TableDigests {
  return {
    orders: { 'ez-bj': digestRows(pk, bj), 'ez-sh': digestRows(pk, sh) },
    users: { 'ez-bj': digestRows(pk, users), 'ez-sh': digestRows(pk, users) },
  };
}

describe('convergence over whole tables', () => {
  const same = [order(1, 'accepted', 2), order(2), order(3)];

  it('passes when every table is identical in every eZone, with a digest and row count per eZone', () => {
    const r = convergence(zones, tables(same, same));
    expect(r).toMatchObject({ verdict: 'ok', ok: true, checked: 4, violations: [] });
    expect(r.tables.orders['ez-bj']).toEqual(r.tables.orders['ez-sh']);
    expect(r.tables.orders['ez-bj'].rows).toBe(3);
    expect(r.tables.users['ez-sh'].rows).toBe(1);
  });

  it('fails on a row missing in one eZone and names it', () => {
    const r = convergence(zones, tables(same, [same[0], same[2]]));
    expect(r.verdict).toBe('fail');
    expect(r.violations).toHaveLength(1);
    expect(r.violations[0]).toMatch(
      /^table orders differs: ez-bj 3 rows [0-9a-f]{12}, ez-sh 2 rows [0-9a-f]{12}; first differing primary keys: 2 \(missing in ez-sh\)$/,
    );
  });

  it('fails on a row that differs, also when every eZone has the same number of rows', () => {
    const r = convergence(zones, tables(same, [same[0], order(2, 'cancelled', 2), same[2]]));
    expect(r.verdict).toBe('fail');
    expect(r.violations[0]).toMatch(/first differing primary keys: 2 \(differs\)$/);
  });

  it('caps the evidence at the first differing keys', () => {
    const many = Array.from({ length: 12 }, (_, i) => order(i + 1));
    const r = convergence(zones, tables(many, []));
    expect(r.violations[0]).toMatch(
      /first differing primary keys: 1 \(missing in ez-sh\), 2 .*, 5 \(missing in ez-sh\) and 7 more$/,
    );
  });

  it('names keys missing in the first eZone too', () => {
    expect(
      compareDigests({ a: digestRows(pk, [order(1)]), b: digestRows(pk, [order(1), order(9)]) }),
    ).toEqual({
      same: false,
      differing: ['9'],
      more: 0,
    });
  });

  it('reports unknown when an eZone could not be read, or there is nothing to compare', () => {
    const t = tables(same, same);
    for (const byZone of Object.values(t)) delete byZone['ez-sh'];
    const unread = { 'ez-sh': 'connect ECONNREFUSED 127.0.0.1:3306' };
    expect(convergence(zones, t, unread)).toMatchObject({
      verdict: 'unknown',
      ok: false,
      reason: 'could not read ez-sh (connect ECONNREFUSED 127.0.0.1:3306)',
    });
    // three eZones, two identical, one unreadable: not ok, since the third was not compared
    const three = tables(same, same);
    expect(convergence([...zones, 'ez-gz'], three, { 'ez-gz': 'timeout' })).toMatchObject({
      verdict: 'unknown',
      reason: 'could not read ez-gz (timeout)',
    });
    expect(convergence(['ez-bj'], t).verdict).toBe('unknown');
    expect(convergence(zones, {})).toMatchObject({ verdict: 'unknown', reason: 'no replicated table' });
  });

  it('a digest is the sha256 of the rows as JSON lines (the DRC tests compare these)', () => {
    const d = digestRows(pk, same, { keepText: true });
    expect(d.text.split('\n')).toHaveLength(3);
    expect(d.sha).toBe(createHash('sha256').update(d.text).digest('hex'));
    expect(digestRows(pk, []).sha).toBe(createHash('sha256').update('').digest('hex'));
  });
});
