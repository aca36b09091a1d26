// The workload report as printed (an unknown verdict reads differently from ok and FAIL, a drain
// that timed out says so) and the drain's idea of a whole cluster, on hand-made snapshots.
import { describe, expect, it } from 'vitest';
import { digestRows } from '../../harness/checkers/digest.js';
import { convergence, judge, notExamined } from '../../harness/workload/checker.js';
import { type ClusterSnapshot, wholeness } from '../../harness/workload/drain.js';
import { formatWorkload } from '../../harness/workload/format.js';
import type { WorkloadReport } from '../../harness/workload/run.js';

const pk = { primaryKey: ['id'] };
const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ id: String(i + 1), drc_origin: 1 }));

function report(over: Partial<WorkloadReport> = {}): WorkloadReport {
  const d = digestRows(pk, rows(2));
  return {
    orders: 2,
    ops: { ok: 8, fail: 0, info: 1, total: 9 },
    servedBy: { 'ez-bj': 8 },
    errors: { EZ_CLIENT_ECONNREFUSED: 1 },
    latencyMs: { p50: 1, p99: 2, max: 3 },
    opsPerSec: 9,
    runMs: 1000,
    drainMs: 12,
    drain: { ms: 12, timeoutMs: 30_000, timedOut: false, waitedFor: [] },
    checks: {
      noLostOrder: judge({ checked: 2, violations: [] }),
      convergence: convergence(['ez-bj', 'ez-sh'], { orders: { 'ez-bj': d, 'ez-sh': d } }),
      validLifecycle: judge({ checked: 2, violations: [] }),
      routingCorrectness: judge({ checked: 8, violations: [], unjudged: 3 }),
    },
    valid: true,
    ...over,
  };
}

describe('workload report', () => {
  it('prints every check ok, with the unjudged count and each table’s digests', () => {
    const text = formatWorkload(report());
    expect(text).toMatch(/^ {2}ok {3}routingCorrectness \(8 checked, unjudged: 3\)$/m);
    expect(text).toMatch(/^ {7}orders: ez-bj 2 rows [0-9a-f]{12}, ez-sh 2 rows [0-9a-f]{12}$/m);
    expect(text).toMatch(/^errors {6}EZ_CLIENT_ECONNREFUSED 1$/m);
    expect(text.split('\n').at(-1)).toBe('valid: every check passed');
  });

  it('prints an unknown verdict distinctly, with its reason, and a drain that timed out', () => {
    const r = report({
      drainMs: null,
      drain: {
        ms: 1000,
        timeoutMs: 1000,
        timedOut: true,
        waitedFor: ['ez-sh MariaDB (ECONNREFUSED)'],
        message: 'drain timed out after 1.0 s: ez-sh MariaDB (ECONNREFUSED)',
      },
      valid: false,
    });
    r.checks.noLostOrder = notExamined('could not read ez-sh (ECONNREFUSED)');
    const text = formatWorkload(r);
    expect(text).toMatch(/^ {2}\?\? {3}noLostOrder \(0 checked\): could not judge: could not read ez-sh/m);
    expect(text).not.toMatch(/^ {2}(ok|FAIL) +noLostOrder/m);
    expect(text).toMatch(/^drain {7}drain timed out after 1\.0 s: ez-sh MariaDB/m);
    expect(text.split('\n').at(-1)).toBe('NOT JUDGED: a check could not judge the run');
    r.checks.validLifecycle = judge({ checked: 2, violations: ['order 1 in ez-bj: version 3, expected 2'] });
    expect(formatWorkload(r).split('\n').at(-1)).toBe('INVALID: a check failed');
    expect(formatWorkload(r)).toMatch(/^ {2}FAIL validLifecycle \(2 checked\)$/m);
  });
});

describe('a whole cluster, as the drain sees it', () => {
  const gzs = {
    epoch: 1,
    generation: 'g',
    now: 0,
    since: null,
    retainedFrom: { epoch: 1, at: 0 },
    base: { epoch: 1, at: 0, owners: {}, locked: [] },
    events: [],
  };
  const snapshot = (over: Partial<ClusterSnapshot>): ClusterSnapshot => ({
    digests: { orders: { 'ez-bj': digestRows(pk, rows(3)), 'ez-sh': digestRows(pk, rows(3)) } },
    orders: {},
    unread: {},
    gzs,
    ...over,
  });

  it('is whole when every MariaDB and GZS answered and every table is identical', () => {
    expect(wholeness(snapshot({}))).toEqual([]);
  });

  it('is not whole while an eZone or GZS cannot be read, or a table differs', () => {
    expect(
      wholeness(
        snapshot({
          digests: { orders: { 'ez-bj': digestRows(pk, rows(3)), 'ez-sh': digestRows(pk, rows(1)) } },
          unread: { 'ez-gz': 'ECONNREFUSED' },
          gzs: { error: 'EZ_GZS_UNREACHABLE' },
        }),
      ),
    ).toEqual([
      { what: 'ez-gz MariaDB', why: 'ECONNREFUSED' },
      { what: 'GZS', why: 'EZ_GZS_UNREACHABLE' },
      { what: 'orders identical in every eZone', why: 'digests differ: ez-bj 3 rows, ez-sh 1 rows' },
    ]);
  });
});
