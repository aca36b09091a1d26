import mysql from 'mysql2/promise';
import { GzsApi } from '../../src/gzs/api.js';
import { ownerAtEpoch } from '../../src/gzs/doc.js';
import { FenceIndex } from '../../src/routing/index.js';
import { mysqlAccount } from '../../src/shared/mysql-accounts.js';
import type { Topology } from '../../src/topology/types.js';
import { seededRandom } from '../../src/util/random.js';
import { digestConnection, readTableDigest } from '../checkers/digest.js';
import {
  ackedOrders,
  type CheckResult,
  type ConvergenceResult,
  convergence,
  noLostOrder,
  routingCorrectness,
  type StoredOrder,
  type TableDigests,
  validLifecycle,
  type ZoneRows,
} from './checker.js';
import { OrderClient } from './client.js';
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
  /** how long to wait for DRC to bring every eZone to the same data */
  drainTimeoutMs: number;
  onProgress?: (p: { done: number; total: number; ok: number; fail: number; info: number }) => void;
}

export interface WorkloadReport {
  orders: number;
  ops: { ok: number; fail: number; info: number; total: number };
  /** acknowledged requests per serving eZone */
  servedBy: Record<string, number>;
  /** failed and unknown requests by error code */
  errors: Record<string, number>;
  latencyMs: { p50: number; p99: number; max: number };
  opsPerSec: number;
  runMs: number;
  /** from the end of the run until every eZone held the same rows (null: not within the timeout) */
  drainMs: number | null;
  checks: Record<'noLostOrder' | 'validLifecycle' | 'routingCorrectness', CheckResult> & {
    convergence: ConvergenceResult;
  };
  /** every check's verdict is ok (a check that could not judge makes the run not valid) */
  valid: boolean;
}

/**
 * A demo/drill workload (Jepsen's client + generator + checker): orders all over the country go
 * through APIRouter for their whole life; the history is recorded; after the run has drained the
 * checkers of DESIGN §7 read the history and every eZone's database.
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

  const ids = ackedOrders(history);
  const zones = opts.topology.zones.map((z) => z.id);
  const drainStart = performance.now();
  let seen = await readZones(opts.topology, ids);
  let drainMs: number | null = null;
  for (;;) {
    if (convergence(zones, seen.digests).ok && noLostOrder(history, seen.orders).ok) {
      drainMs = performance.now() - drainStart;
      break;
    }
    if (performance.now() - drainStart > opts.drainTimeoutMs) break;
    await new Promise((r) => setTimeout(r, 100));
    seen = await readZones(opts.topology, ids);
  }

  const gzs = new GzsApi(opts.gzsUrl);
  const [{ table }, { entries }] = await Promise.all([gzs.table(), gzs.history(0)]);
  const doc = { table, history: entries };
  const checks = {
    noLostOrder: noLostOrder(history, seen.orders),
    convergence: convergence(zones, seen.digests),
    validLifecycle: validLifecycle(history, seen.orders),
    routingCorrectness: routingCorrectness(history, (shard, epoch) => ownerAtEpoch(doc, shard, epoch).zone),
  };

  const counts = history.counts();
  const lat = history.ops.map((o) => o.ms).sort((a, b) => a - b);
  const pct = (p: number) =>
    lat.length ? round(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]) : 0;
  const servedBy: Record<string, number> = {};
  const errors: Record<string, number> = {};
  for (const op of history.ops) {
    if (op.result === 'ok' && op.zone) servedBy[op.zone] = (servedBy[op.zone] ?? 0) + 1;
    if (op.result !== 'ok') errors[op.error ?? 'unknown'] = (errors[op.error ?? 'unknown'] ?? 0) + 1;
  }
  return {
    orders: opts.orders,
    ops: { ...counts, total: history.ops.length },
    servedBy,
    errors,
    latencyMs: { p50: pct(0.5), p99: pct(0.99), max: lat.length ? round(lat[lat.length - 1]) : 0 },
    opsPerSec: Math.round((history.ops.length / runMs) * 1000),
    runMs: Math.round(runMs),
    drainMs: drainMs === null ? null : Math.round(drainMs),
    checks,
    valid: Object.values(checks).every((c) => c.verdict === 'ok'),
  };
}

const round = (x: number) => Math.round(x * 100) / 100;

/**
 * What every eZone's MariaDB holds: a digest of every replicated table, and the workload's orders
 * (taken from the same read of `orders`, so both checks see one snapshot).
 */
async function readZones(
  topology: Topology,
  ids: string[],
): Promise<{ digests: TableDigests; orders: ZoneRows }> {
  const reader = mysqlAccount('reader');
  const wanted = new Set(ids);
  const digests: TableDigests = Object.fromEntries(topology.tables.map((t) => [t.name, {}]));
  const orders: ZoneRows = {};
  await Promise.all(
    topology.zones.map(async (z) => {
      const conn = await mysql.createConnection(
        digestConnection({
          host: '127.0.0.1',
          port: topology.deployment.zones[z.id].ports.mysql,
          user: reader.user,
          password: reader.password,
          database: topology.database,
        }),
      );
      const m = new Map<string, StoredOrder>();
      try {
        for (const spec of topology.tables) {
          digests[spec.name][z.id] = await readTableDigest(conn, spec, {
            onRow: spec.name === 'orders' ? (r) => keepOrder(m, wanted, r) : undefined,
          });
        }
      } finally {
        await conn.end();
      }
      orders[z.id] = m;
    }),
  );
  return { digests, orders };
}

function keepOrder(m: Map<string, StoredOrder>, wanted: Set<string>, r: Record<string, unknown>): void {
  const id = String(r.id);
  if (!wanted.has(id)) return;
  m.set(id, { id, state: String(r.state), version: Number(r.version), updatedAt: String(r.updated_at) });
}
