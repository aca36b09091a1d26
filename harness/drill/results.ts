/**
 * From a finished drill to its verdict: the checkers of DESIGN §7 over the history and the
 * snapshot read after the drain, the figures beside them (errors by code, RTO, block windows, lag,
 * availability), and `results.json`. The snapshot is stored too (`snapshot.json`), so
 * `ezctl drill check <run-dir>` judges a run again from its files alone.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HistoryEntry } from '../../src/gzs/index.js';
import { ownershipView } from '../../src/gzs/index.js';
import type { OwnershipAnswer } from '../../src/shared/gzs-protocol.js';
import type { Topology } from '../../src/topology/index.js';
import { UsageError } from '../../src/util/errors.js';
import {
  availability,
  type CacheSample,
  type CheckInput,
  type CheckResult,
  checkAll,
  errorsByCode,
  judge,
  latencyQuantiles,
  nemesisWindows,
  orderLocksFromHistory,
  ownershipFromView,
  type StoredOrder,
  type TableDigests,
} from '../checkers/index.js';
import { type HistoryEvent, isNemesis, readHistory } from '../history/index.js';
import type { DrainResult } from '../workload/drain.js';

export interface CheckContext {
  drill: {
    name: string;
    file: string;
    seed: number;
    durationMs: number;
    schedule: unknown[];
    expect: { failovers?: number };
  };
  topology: Pick<Topology, 'zones'>;
  events: HistoryEvent[];
  drain: Pick<DrainResult, 'snapshot' | 'ms' | 'timedOut' | 'notWhole' | 'whole'>;
  gzsHistory: HistoryEntry[] | { error: string };
  illegalWrites: { origin: string; table: string; pk: string; writtenAt: string }[] | { error: string };
  cache:
    | {
        zone: string;
        orderId: string;
        cached: { state: string; version: number } | null;
        row: { state: string; version: number } | null;
      }[]
    | { error: string };
  clients?: { lives: number; ops: number; ok: number; fail: number; info: number; processes: number };
  lag?: { from: string; to: string; samples: [number, number | null][] }[];
}

export interface RunResults {
  drill: CheckContext['drill'];
  finishedAt: string;
  /** every check ok, and the drill's expectations met */
  valid: boolean;
  verdict: 'ok' | 'fail' | 'unknown';
  checks: Record<string, CheckResult>;
  /** the key figures, one line each (printed, and in the report) */
  summary: string[];
  figures: Record<string, unknown>;
  lag?: CheckContext['lag'];
}

/** The snapshot as stored (Maps as entries). */
interface StoredSnapshot {
  zones: string[];
  rows: Record<string, [string, StoredOrder][]>;
  unread: Record<string, string>;
  digests: TableDigests;
  gzs: OwnershipAnswer | { error: string };
  gzsHistory: CheckContext['gzsHistory'];
  illegalWrites: CheckContext['illegalWrites'];
  cache: CheckContext['cache'];
  drain: Omit<CheckContext['drain'], 'snapshot'>;
  drill: CheckContext['drill'];
  clients?: CheckContext['clients'];
  lag?: CheckContext['lag'];
}

export function checkRun(c: CheckContext): RunResults {
  const s = c.drain.snapshot;
  const zones = c.topology.zones.map((z) => z.id);
  let ownership: CheckInput['ownership'];
  if (!('error' in s.gzs)) {
    const locks = Array.isArray(c.gzsHistory) ? orderLocksFromHistory(c.gzsHistory) : undefined;
    ownership = ownershipFromView(ownershipView(s.gzs), locks);
  }
  const input: CheckInput = {
    events: c.events,
    zones,
    rows: s.orders,
    unread: s.unread,
    digests: s.digests,
    ownership,
    illegalWrites: Array.isArray(c.illegalWrites) ? c.illegalWrites : undefined,
    cache: Array.isArray(c.cache) ? (c.cache as CacheSample[]) : undefined,
  };
  const v = checkAll(input);
  const checks: Record<string, CheckResult> = { ...v.checks };

  // what the drill file expects beyond the invariants
  const failovers = c.events.filter((e) => isNemesis(e) && e.nemesis === 'failover' && e.type === 'ok');
  if (c.drill.expect.failovers !== undefined) {
    const seen = failovers.length;
    checks.expectations = judge({
      checked: 1,
      violations:
        seen === c.drill.expect.failovers
          ? []
          : [
              `expected ${c.drill.expect.failovers} failover(s), saw ${seen} (history lines ${failovers.map((e) => e.index).join(', ') || 'none'})`,
            ],
    });
  }
  const errors = errorsByCode(c.events);
  const windows = nemesisWindows(c.events);
  const maxLag = Math.max(0, ...(c.lag ?? []).flatMap((d) => d.samples.map(([, ms]) => ms ?? 0)));
  const summary: string[] = [];
  const k = c.clients;
  if (k)
    summary.push(
      `ops ${k.ops} (ok ${k.ok}, fail ${k.fail}, info ${k.info}) over ${k.lives} order lives by ${k.processes} processes`,
    );
  const errText = Object.entries(errors)
    .map(
      ([code, n]) =>
        `${code} ${typeof n === 'number' ? n : ((n as { total?: number }).total ?? JSON.stringify(n))}`,
    )
    .join(', ');
  summary.push(`errors by code: ${errText || 'none'}`);
  for (const w of windows) {
    const figs = [
      w.rtoMs !== undefined ? `RTO ${w.rtoMs} ms` : '',
      w.blockWindowMs !== undefined ? `block window ${w.blockWindowMs} ms` : '',
      w.longestOkGapMs !== null ? `longest gap without an ok write ${Math.round(w.longestOkGapMs)} ms` : '',
      w.error ? `error: ${w.error}` : '',
    ].filter(Boolean);
    summary.push(
      `${w.nemesis} ${w.kind === 'fault' ? `${Math.round(w.from)}–${w.to === null ? 'end' : Math.round(w.to)} ms` : `at ${Math.round(w.from)} ms`}: writes ok ${w.writes.ok} fail ${w.writes.fail} info ${w.writes.info}${figs.length ? `; ${figs.join(', ')}` : ''}`,
    );
  }
  summary.push(
    `max replication lag ${Math.round(maxLag)} ms; drain ${c.drain.ms} ms${c.drain.timedOut ? ` (TIMED OUT: ${c.drain.notWhole.join('; ')})` : ''}`,
  );
  const valid = Object.values(checks).every((x) => x.verdict === 'ok');
  return {
    drill: c.drill,
    finishedAt: new Date().toISOString(),
    valid,
    verdict: Object.values(checks).some((x) => x.verdict === 'fail') ? 'fail' : valid ? 'ok' : 'unknown',
    checks,
    summary,
    figures: {
      clients: c.clients,
      errorsByCode: errors,
      latency: latencyQuantiles(c.events, { include: ['ok', 'fail', 'info'] }),
      availability: availability(c.events),
      nemesis: windows,
      maxLagMs: maxLag,
      drain: { ms: c.drain.ms, timedOut: c.drain.timedOut, notWhole: c.drain.notWhole },
      illegalWrites: Array.isArray(c.illegalWrites) ? c.illegalWrites.length : c.illegalWrites,
      cacheSamples: Array.isArray(c.cache) ? c.cache.length : c.cache,
    },
    lag: c.lag,
  };
}

/** results.json and snapshot.json into the run directory. */
export function storeRun(runDir: string, c: CheckContext, r: RunResults): void {
  const s = c.drain.snapshot;
  const snap: StoredSnapshot = {
    zones: c.topology.zones.map((z) => z.id),
    rows: Object.fromEntries(Object.entries(s.orders).map(([z, m]) => [z, [...m.entries()]])),
    unread: s.unread,
    digests: s.digests,
    gzs: s.gzs,
    gzsHistory: c.gzsHistory,
    illegalWrites: c.illegalWrites,
    cache: c.cache,
    drain: { ms: c.drain.ms, timedOut: c.drain.timedOut, notWhole: c.drain.notWhole, whole: c.drain.whole },
    drill: c.drill,
    clients: c.clients,
    lag: c.lag,
  };
  writeFileSync(join(runDir, 'snapshot.json'), JSON.stringify(snap));
  writeFileSync(join(runDir, 'results.json'), `${JSON.stringify(r, null, 2)}\n`);
}

/** Judge a stored run again from history.jsonl and snapshot.json; rewrites results.json and report.html. */
export async function recheckRun(runDir: string): Promise<RunResults> {
  let snap: StoredSnapshot;
  let events: HistoryEvent[];
  try {
    snap = JSON.parse(readFileSync(join(runDir, 'snapshot.json'), 'utf8')) as StoredSnapshot;
    events = readHistory(join(runDir, 'history.jsonl'));
  } catch (err) {
    throw new UsageError(
      `${runDir}: not a drill run directory (${(err as Error).message}; expected history.jsonl and snapshot.json)`,
    );
  }
  const c: CheckContext = {
    drill: snap.drill,
    topology: { zones: snap.zones.map((id) => ({ id })) as Topology['zones'] },
    events,
    drain: {
      ...snap.drain,
      snapshot: {
        orders: Object.fromEntries(Object.entries(snap.rows).map(([z, e]) => [z, new Map(e)])),
        unread: snap.unread,
        digests: snap.digests,
        gzs: snap.gzs,
      },
    },
    gzsHistory: snap.gzsHistory,
    illegalWrites: snap.illegalWrites,
    cache: snap.cache,
    clients: snap.clients,
    lag: snap.lag,
  };
  const r = checkRun(c);
  storeRun(runDir, c, r);
  const { writeReport } = await import('../report/index.js');
  writeReport(runDir);
  return r;
}
