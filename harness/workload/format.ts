import type { WorkloadReport } from './run.js';

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
  lines.push(`drained in  ${r.drainMs === null ? 'NOT within the timeout' : `${r.drainMs} ms`}`);
  lines.push('checks:');
  for (const [name, c] of Object.entries(r.checks)) {
    lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${name} (${c.checked} checked)`);
    for (const v of c.violations) lines.push(`       ${v}`);
  }
  lines.push(r.valid ? 'valid: every check passed' : 'INVALID: a check failed');
  return lines.join('\n');
}
