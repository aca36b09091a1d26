/**
 * Figures a drill report shows next to the verdicts, all from history.jsonl: errors by code,
 * availability of writes per serving eZone per time bucket, operation latency quantiles, and every
 * nemesis window (start → stop, or one action) with what the nemesis measured (RTO, write-block
 * window) and what the clients saw during it.
 */
import { type HistoryEvent, isNemesis, type NemesisEvent, pairOperations } from '../history/events.js';
import { type ClientOp, clientOps, isOrderWrite, outcome } from './input.js';

export interface ErrorCount {
  fail: number;
  info: number;
  total: number;
}

/** Completions that were not ok, by error code (an info with no code: `EZ_UNKNOWN_OUTCOME`; open at the end: `EZ_OPEN`). */
export function errorsByCode(events: HistoryEvent[]): Record<string, ErrorCount> {
  const out: Record<string, ErrorCount> = {};
  for (const op of clientOps(events)) {
    const o = outcome(op);
    if (o === 'ok') continue;
    const code = op.complete ? (op.complete.error ?? `EZ_UNKNOWN_OUTCOME`) : 'EZ_OPEN';
    out[code] = out[code] ?? { fail: 0, info: 0, total: 0 };
    const c = out[code];
    c[o]++;
    c.total++;
  }
  return out;
}

export interface AvailabilityBucket {
  /** bucket start, ms since the drill started */
  from: number;
  ok: number;
  fail: number;
  info: number;
  /** ok / (ok + fail + info) */
  availability: number;
}

/**
 * Availability of order writes per serving eZone, per bucket of `bucketMs` (by invoke time). The
 * serving eZone is the answer's X-Ez-Zone; an answer without one (the eZone was unreachable) is
 * counted for `zoneOf(op)` when given (e.g. the shard's owner at that time), else under `?`.
 */
export function availability(
  events: HistoryEvent[],
  opts: { bucketMs?: number; zoneOf?: (op: ClientOp) => string | undefined } = {},
): Record<string, AvailabilityBucket[]> {
  const bucketMs = opts.bucketMs ?? 1000;
  const byZone = new Map<string, Map<number, AvailabilityBucket>>();
  for (const op of clientOps(events)) {
    if (!isOrderWrite(op)) continue;
    const zone = op.complete?.zone ?? opts.zoneOf?.(op) ?? '?';
    const from = Math.floor(op.invoke.time / bucketMs) * bucketMs;
    const buckets = byZone.get(zone) ?? new Map<number, AvailabilityBucket>();
    byZone.set(zone, buckets);
    const b = buckets.get(from) ?? { from, ok: 0, fail: 0, info: 0, availability: 0 };
    buckets.set(from, b);
    b[outcome(op)]++;
  }
  const out: Record<string, AvailabilityBucket[]> = {};
  for (const [zone, buckets] of [...byZone].sort(([a], [b]) => a.localeCompare(b)))
    out[zone] = [...buckets.values()]
      .sort((a, b) => a.from - b.from)
      .map((b) => ({ ...b, availability: b.ok / (b.ok + b.fail + b.info) }));
  return out;
}

export interface Quantiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank quantile of sorted values. */
const q = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];

export function quantiles(values: number[]): Quantiles | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return { count: s.length, p50: q(s, 0.5), p90: q(s, 0.9), p99: q(s, 0.99), max: s[s.length - 1] };
}

/** Latency (completion − invoke, ms) of completed operations per operation (`f`) and `all`; by default ok ones only. */
export function latencyQuantiles(
  events: HistoryEvent[],
  opts: { include?: ('ok' | 'fail' | 'info')[] } = {},
): Record<string, Quantiles> {
  const include = new Set(opts.include ?? ['ok']);
  const by = new Map<string, number[]>([['all', []]]);
  for (const op of clientOps(events)) {
    if (!op.complete || !include.has(outcome(op))) continue;
    const ms = op.complete.ms ?? op.complete.time - op.invoke.time;
    by.get('all')!.push(ms);
    const list = by.get(op.invoke.f) ?? [];
    list.push(ms);
    by.set(op.invoke.f, list);
  }
  const out: Record<string, Quantiles> = {};
  for (const [f, ms] of by) {
    const r = quantiles(ms);
    if (r) out[f] = r;
  }
  return out;
}

export interface NemesisWindow {
  nemesis: string;
  /** a fault held from start to stop, or a one-shot action (move, failover, …) */
  kind: 'fault' | 'action';
  value: Record<string, unknown>;
  /** ms since the drill started: the start's (or action's) invoke, the stop's (or action's) completion; null while open */
  from: number;
  to: number | null;
  /** history lines of the events that make the window */
  lines: number[];
  /** what the nemesis reported: its completions' `result`s merged (stop's last) */
  result: Record<string, unknown>;
  /** the measured figures found in result: RTO and write-block window, ms */
  rtoMs?: number;
  blockWindowMs?: number;
  error?: string;
  /** order writes invoked inside the window, by outcome */
  writes: { ok: number; fail: number; info: number };
  /** the longest time inside the window with no acknowledged write (completion to completion), ms */
  longestOkGapMs: number | null;
}

const num = (r: Record<string, unknown>, ...keys: string[]): number | undefined => {
  for (const k of keys) if (typeof r[k] === 'number') return r[k] as number;
  return undefined;
};

/** Pair each nemesis `start` with the next `stop` of the same nemesis; `action`s are windows of their own. */
export function nemesisWindows(events: HistoryEvent[]): NemesisWindow[] {
  const ops = pairOperations(events.filter(isNemesis));
  const windows: { start: (typeof ops)[number]; stop: (typeof ops)[number] | null }[] = [];
  const open = new Map<string, (typeof windows)[number]>();
  for (const op of ops) {
    const n = op.invoke.nemesis;
    if (op.invoke.f === 'action') windows.push({ start: op, stop: op });
    else if (op.invoke.f === 'start') {
      const w = { start: op, stop: null };
      windows.push(w);
      open.set(n, w);
    } else {
      const w = open.get(n);
      if (w) {
        w.stop = op;
        open.delete(n);
      } else windows.push({ start: op, stop: op }); // a stop with no start: its own window
    }
  }
  const writes = clientOps(events).filter(isOrderWrite);
  return windows
    .sort((a, b) => a.start.invoke.index - b.start.invoke.index)
    .map(({ start, stop }) => {
      const evs = [start.invoke, start.complete, stop?.invoke, stop?.complete].filter(
        (e, i, all): e is NemesisEvent => !!e && all.indexOf(e) === i,
      );
      const from = start.invoke.time;
      const to = stop?.complete?.time ?? null;
      const result = Object.assign({}, start.complete?.result, stop?.complete?.result);
      const inside = writes.filter((w) => w.invoke.time >= from && (to === null || w.invoke.time <= to));
      const counts = { ok: 0, fail: 0, info: 0 };
      for (const w of inside) counts[outcome(w)]++;
      const end = to ?? Math.max(from, ...writes.map((w) => (w.complete ?? w.invoke).time));
      const okTimes = writes
        .filter((w) => outcome(w) === 'ok' && w.complete!.time >= from && w.complete!.time <= end)
        .map((w) => w.complete!.time)
        .sort((a, b) => a - b);
      let gap: number | null = null;
      if (inside.length) {
        const points = [from, ...okTimes, end];
        gap = 0;
        for (let i = 1; i < points.length; i++) gap = Math.max(gap, points[i] - points[i - 1]);
      }
      const error = evs.map((e) => e.error).find((e) => e !== undefined);
      const rtoMs = num(result, 'rtoMs', 'rto');
      const blockWindowMs = num(result, 'blockWindowMs', 'windowMs', 'writeBlockMs', 'window');
      return {
        nemesis: start.invoke.nemesis,
        kind: start === stop ? 'action' : 'fault',
        value: start.invoke.value,
        from,
        to,
        lines: evs.map((e) => e.index),
        result,
        ...(rtoMs !== undefined ? { rtoMs } : {}),
        ...(blockWindowMs !== undefined ? { blockWindowMs } : {}),
        ...(error !== undefined ? { error } : {}),
        writes: counts,
        longestOkGapMs: gap,
      } satisfies NemesisWindow;
    });
}
