import type { CheckResult, ConvergenceResult } from './checker.js';
import type { WorkloadReport } from './run.js';

const MARK: Record<CheckResult['verdict'], string> = { ok: 'ok  ', fail: 'FAIL', unknown: '??  ' };

/** What a check looked at, and what it could not judge. */
const examined = (c: CheckResult): string =>
  `${c.checked} checked${c.unjudged ? `, unjudged: ${c.unjudged}` : ''}`;

export function formatWorkload(r: WorkloadReport): string {
  const lines = [
    `${r.orders} orders, ${r.ops.total} requests in ${(r.runMs / 1000).toFixed(1)} s (${r.opsPerSec}/s): ok ${r.ops.ok}, refused ${r.ops.fail}, unknown ${r.ops.info}`,
    `latency ms  p50 ${r.latencyMs.p50}  p99 ${r.latencyMs.p99}  max ${r.latencyMs.max}`,
    `served by   ${
      Object.entries(r.servedBy)
        .map(([z, n]) => `${z} ${n}`)
        .join(', ') || '-'
    }`,
  ];
  if (Object.keys(r.errors).length)
    lines.push(
      `errors      ${Object.entries(r.errors)
        .map(([c, n]) => `${c} ${n}`)
        .join(', ')}`,
    );
  lines.push(
    r.drain.timedOut
      ? `drain       ${r.drain.message}`
      : `drained in  ${r.drain.ms} ms${r.drain.waitedFor.length ? ` (waited for: ${r.drain.waitedFor.join('; ')})` : ''}`,
  );
  lines.push('checks:');
  for (const [name, c] of Object.entries(r.checks)) {
    const why = c.verdict === 'unknown' ? `: could not judge: ${c.reason}` : '';
    lines.push(`  ${MARK[c.verdict]} ${name} (${examined(c)})${why}`);
    if ('tables' in c)
      for (const [table, byZone] of Object.entries((c as ConvergenceResult).tables))
        lines.push(
          `       ${table}: ${Object.entries(byZone)
            .map(([z, d]) => `${z} ${d.rows} rows ${d.sha}`)
            .join(', ')}`,
        );
    for (const v of c.violations) lines.push(`       ${v}`);
  }
  const verdicts = Object.values(r.checks).map((c) => c.verdict);
  lines.push(
    r.valid
      ? 'valid: every check passed'
      : verdicts.includes('fail')
        ? 'INVALID: a check failed'
        : 'NOT JUDGED: a check could not judge the run',
  );
  return lines.join('\n');
}
