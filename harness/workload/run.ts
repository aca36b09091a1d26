import { ownerAtEpoch } from '../../src/gzs/index.js';
import { FenceIndex } from '../../src/routing/index.js';
import type { Topology } from '../../src/topology/index.js';
import { seededRandom } from '../../src/util/random.js';
import {
  ackedOrders,
  type CheckResult,
  type ConvergenceResult,
  convergence,
  noLostOrder,
  notExamined,
  routingCorrectness,
  validLifecycle,
} from './checker.js';
import { OrderClient } from './client.js';
import { drainCluster } from './drain.js';
import { orderPlan, pointSampler } from './generator.js';
import { History, type Op } from './history.js';

export interface WorkloadOptions {
  topology: Topology;
  routerUrl: string;
  gzsUrl: string;
  /** orders to run through their whole life */
  orders: number;
  /** orders in flight at once */
  concurrency: number;
  seed: number;
  /** how long to wait, after the run, for the cluster to be whole again (and DRC to catch up) */
  drainTimeoutMs: number;
  /** put every recorded request in the report (`history`) */
  keepHistory?: boolean;
  /** every second, and once more when the last order is done (before the drain) */
  onProgress?: (p: { done: number; total: number; ok: number; fail: number; info: number }) => void;
  /** during the drain, whenever the reasons to wait change */
  onDrainWait?: (notWhole: string[]) => void;
}

export interface WorkloadReport {
  orders: number;
  ops: { ok: number; fail: number; info: number; total: number };
  /** acknowledged requests per serving eZone */
  servedBy: Record<string, number>;
  /** refused and unknown requests by EZ_ code */
  errors: Record<string, number>;
  latencyMs: { p50: number; p99: number; max: number };
  opsPerSec: number;
  runMs: number;
  /** from the end of the run until the cluster was whole (null: not within the timeout) */
  drainMs: number | null;
  drain: {
    ms: number;
    timeoutMs: number;
    timedOut: boolean;
    /** what the drain waited for, once each (an eZone's MariaDB, GZS, a table not yet identical) */
    waitedFor: string[];
    /** "drain timed out after …: <why the cluster was not whole>", when it did */
    message?: string;
  };
  checks: Record<'noLostOrder' | 'validLifecycle' | 'routingCorrectness', CheckResult> & {
    convergence: ConvergenceResult;
  };
  /** every check's verdict is ok (a check that could not judge makes the run not valid) */
  valid: boolean;
  /** every recorded request, when asked for (keepHistory) */
  history?: Op[];
}

/**
 * A demo/drill workload (Jepsen's client + generator + checker): orders all over the country go
 * through APIRouter for their whole life; the history is recorded; after the run the drain waits
 * for the cluster to be whole again, then the checkers of DESIGN §7 judge the history against one
 * snapshot of every eZone's database and GZS. Faults during the run are entries in the history;
 * a drain that times out still lets the checks judge what is there.
 */
export async function runWorkload(opts: WorkloadOptions): Promise<WorkloadReport> {
  const random = seededRandom(opts.seed);
  const sample = pointSampler(opts.topology.fences, FenceIndex.build(opts.topology.fences), random);
  const client = new OrderClient(opts.routerUrl);
  const history = new History();
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  const tick = setInterval(() => opts.onProgress?.({ done, total: opts.orders, ...history.counts() }), 1000);

  // points and plans drawn up front, so a seed replays the same workload whatever the interleaving
  const work = Array.from({ length: opts.orders }, () => ({ at: sample(), plan: orderPlan(random) }));
  const lifeOfOneOrder = async (n: number): Promise<void> => {
    const { at, plan } = work[n];
    const created = await client.create(at, n);
    history.record(created);
    if (created.result !== 'ok' || !created.orderId) return;
    for (const step of plan.slice(1) as Exclude<Op['kind'], 'create'>[]) {
      const op = await client.act(step, created.orderId);
      history.record(op);
      if (op.result !== 'ok') return; // an order stops at its first refused or unknown step
    }
  };
  const worker = async (): Promise<void> => {
    while (next < opts.orders) {
      const n = next++;
      await lifeOfOneOrder(n);
      done++;
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency, opts.orders)) }, worker));
  } finally {
    clearInterval(tick);
    await client.close();
  }
  const runMs = performance.now() - t0;
  opts.onProgress?.({ done, total: opts.orders, ...history.counts() });

  const zones = opts.topology.zones.map((z) => z.id);
  const drain = await drainCluster({
    topology: opts.topology,
    gzsUrl: opts.gzsUrl,
    orderIds: ackedOrders(history),
    timeoutMs: opts.drainTimeoutMs,
    onWait: opts.onDrainWait,
  });
  const s = drain.snapshot;
  const gzs = s.gzs;
  const checks = {
    noLostOrder: noLostOrder(history, s.orders, s.unread),
    convergence: convergence(zones, s.digests, s.unread),
    validLifecycle: validLifecycle(history, s.orders, s.unread),
    routingCorrectness:
      'error' in gzs
        ? notExamined(`could not read GZS's ownership log: ${gzs.error}`)
        : routingCorrectness(history, (shard, epoch) => ownerAtEpoch(gzs, shard, epoch).zone),
  };

  const counts = history.counts();
  const lat = history.ops.map((o) => o.ms).sort((a, b) => a - b);
  const pct = (p: number) =>
    lat.length ? round(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]) : 0;
  const servedBy: Record<string, number> = {};
  const errors: Record<string, number> = {};
  for (const op of history.ops) {
    if (op.result === 'ok' && op.zone) servedBy[op.zone] = (servedBy[op.zone] ?? 0) + 1;
    if (op.result !== 'ok') errors[op.error ?? 'EZ_UNKNOWN'] = (errors[op.error ?? 'EZ_UNKNOWN'] ?? 0) + 1;
  }
  return {
    orders: opts.orders,
    ops: { ...counts, total: history.ops.length },
    servedBy,
    errors,
    latencyMs: { p50: pct(0.5), p99: pct(0.99), max: lat.length ? round(lat[lat.length - 1]) : 0 },
    opsPerSec: Math.round((history.ops.length / runMs) * 1000),
    runMs: Math.round(runMs),
    drainMs: drain.whole ? drain.ms : null,
    drain: {
      ms: drain.ms,
      timeoutMs: opts.drainTimeoutMs,
      timedOut: drain.timedOut,
      waitedFor: drain.waitedFor,
      ...(drain.timedOut
        ? { message: `drain timed out after ${(drain.ms / 1000).toFixed(1)} s: ${drain.notWhole.join('; ')}` }
        : {}),
    },
    checks,
    valid: Object.values(checks).every((c) => c.verdict === 'ok'),
    ...(opts.keepHistory ? { history: history.ops } : {}),
  };
}

const round = (x: number) => Math.round(x * 100) / 100;
