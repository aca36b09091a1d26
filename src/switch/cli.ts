/** What the switch commands share: where GZS is, shard lists as typed, and how reports read. */
import { GzsApi } from '../gzs/index.js';
import { canonicalShard } from '../shared/gzs-protocol.js';
import { controlGzsUrl, loadTopology, MAX_SHARD, type Topology } from '../topology/index.js';
import { UsageError } from '../util/errors.js';
import type { SwitchEvent } from './driver.js';
import type { FailbackReport } from './failback.js';
import type { FailoverReport } from './failover.js';
import type { MoveReport } from './move.js';
import type { ResumeReport } from './resume.js';

export function switchContext(flags: { gzs?: string; topology?: string; token?: string }): {
  topology: Topology;
  gzs: GzsApi;
} {
  const topology = loadTopology(flags.topology);
  return { topology, gzs: new GzsApi(flags.gzs ?? controlGzsUrl(topology), { token: flags.token }) };
}

/** `17`, `3,4,9` (each a canonical shard id). */
export function shardList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',').map((s) => s.trim())) {
    const s = canonicalShard(part);
    if (s === undefined)
      throw new UsageError(
        `--shard ${JSON.stringify(text)}: ${JSON.stringify(part)} is not a shard id (expected integers 0..${MAX_SHARD}, comma-separated, e.g. 3,17)`,
      );
    out.push(s);
  }
  return [...new Set(out)];
}

/** Progress on stderr (stdout stays the result, also with --json). */
export const progressLine = (e: SwitchEvent): void => {
  process.stderr.write(`[${String(e.atMs).padStart(6)} ms] ${e.step}${e.detail ? `: ${e.detail}` : ''}\n`);
};

export function formatMove(r: MoveReport): string {
  const p = r.plan;
  const head = `shard(s) ${p.shards.join(', ')}: ${p.from} -> ${p.to}`;
  if (r.outcome === 'planned')
    return [
      `plan: ${head} (table epoch ${p.epoch})`,
      `  1. lock, wait for every live holder (the DALs: until their transactions on the shard end)`,
      `  2. note ${p.from}'s binlog position`,
      `  3. wait until DRC ${p.drc.direction} applied it (lag now ${p.drc.lagNowMs ?? '?'} ms, p99 ${p.drc.lagP99Ms ?? '?'} ms; ${p.drc.state})`,
      `  4. owner = ${p.to}, serving (the point of no return)`,
      `expected write-block window ≈ ${p.expectedWindowMs} ms; timeout ${p.timeoutMs} ms (then it rolls back)`,
    ].join('\n');
  const s = r.steps;
  const steps = `lock ${s.lockMs ?? '-'} ms, position ${s.positionMs ?? '-'} ms, catch-up ${s.catchUpMs ?? '-'} ms, switch ${s.switchMs ?? '-'} ms`;
  if (r.outcome === 'switched')
    return `${head}: switched at epoch ${r.epochs.switch} (switch ${r.id})\nwrite-block window ${r.windowMs} ms (${steps})`;
  return `${head}: ${r.outcome.toUpperCase()} (switch ${r.id ?? '-'}): ${r.reason ?? ''}\n(${steps})`;
}

export function formatFailover(r: FailoverReport): string {
  if (r.outcome === 'refused') return `failover ${r.from} -> ${r.to} ${r.reason ?? 'refused'}`;
  return [
    `failover ${r.from} -> ${r.to}: ${r.shards.length} shard(s) owned by ${r.to} at epoch ${r.epoch}${r.forced ? ' (FORCED: see the warning above)' : ''}`,
    `  verdict: ${r.verdict.reason}`,
    `  orders of those shards created before ${new Date(r.lockedBefore!).toISOString()} are locked until ${r.from}'s tail is applied at ${r.to} (ezctl locks list)`,
    `  acknowledged by the live holders in ${r.ackMs} ms${r.notAcked.length ? `; not yet: ${r.notAcked.join(', ')}` : ''}`,
  ].join('\n');
}

export function formatFailback(r: FailbackReport): string {
  if (r.outcome === 'nothing-to-do') return `failback ${r.zone}: nothing to do (${r.reason})`;
  return [
    `failback ${r.zone}: ${r.outcome}${r.reason ? ` — ${r.reason}` : ''}`,
    ...r.moves.map((m) => `  ${formatMove(m).replace(/\n/g, '\n  ')}`),
  ].join('\n');
}

export function formatResume(r: ResumeReport): string {
  if (r.entries.length === 0) return 'no open switch in the journal';
  return r.entries
    .map(
      (e) =>
        `switch ${e.id} (shard(s) ${e.shards.join(', ')}, ${e.from} -> ${e.to}): ${e.was} -> ${e.now}, ${e.how}`,
    )
    .join('\n');
}
