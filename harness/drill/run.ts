/**
 * `ezctl drill run`: one drill, Jepsen's shape — db (the cluster from `ezctl up`, on links), client
 * + generator (clients.ts), nemesis (the schedule), checker (one per DESIGN §7 invariant). The run
 * brings the cluster up (or reuses it), runs the workload and the schedule for the drill's
 * duration, stops every fault still in force, drains, reads every eZone, checks, and stores
 * `history.jsonl`, `results.json` and `report.html` under `runs/<drill>/<timestamp>/` (a `latest`
 * link beside them).
 */
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { drcStatus, listIllegalWrites } from '../../src/drc/index.js';
import { GzsApi } from '../../src/gzs/index.js';
import {
  type ClusterStatus,
  clusterDir,
  type OnProgress,
  resolveStateDir,
  up,
} from '../../src/launch/index.js';
import { LinkSet } from '../../src/links/index.js';
import { applySecretsEnv, readClusterSecrets, redisPassword } from '../../src/shared/secrets.js';
import {
  controlGzsUrl,
  controlRouterUrl,
  loadTopology,
  partAddress,
  type Topology,
} from '../../src/topology/index.js';
import { errorMessage } from '../../src/util/errors.js';
import { type HistoryEvent, isClient } from '../history/index.js';
import { HistoryWriter } from '../history/store.js';
import { type Nemesis, type NemesisContext, nemesisFromSpec, runNemesis } from '../nemesis/index.js';
import { drainCluster } from '../workload/drain.js';
import { runClients } from './clients.js';
import { type CheckContext, checkRun, type RunResults, storeRun } from './results.js';
import type { Drill } from './spec.js';

export interface DrillRunOptions {
  drill: Drill;
  /** overrides the drill's */
  seed?: number;
  durationMs?: number;
  /** where runs are stored (default ./runs) */
  runsDir?: string;
  /** the cluster's state directory (as `ezctl up --state-dir`) */
  stateDir?: string;
  /** a topology to use instead of the drill's (tests: free ports) */
  topology?: Topology;
  onProgress?: (p: DrillProgress) => void;
  onUp?: OnProgress;
}

export interface DrillProgress {
  phase: 'up' | 'run' | 'heal' | 'drain' | 'check' | 'done';
  atMs: number;
  ops: number;
  errors: Record<string, number>;
  /** faults in force now */
  faults: string[];
  opsPerSec: number;
  detail?: string;
}

export interface DrillRun {
  runDir: string;
  results: RunResults;
  /** 0 every invariant holds, 1 a violation (or a check that could not judge) */
  exitCode: 0 | 1;
}

const stamp = (d = new Date()) => d.toISOString().replace(/[:.]/g, '-');

export async function runDrill(o: DrillRunOptions): Promise<DrillRun> {
  const drill = o.drill;
  const seed = o.seed ?? drill.seed;
  const durationMs = o.durationMs ?? drill.duration;
  const topology = o.topology ?? loadTopology(drill.topologyFile);
  // every schedule entry checked against the topology before anything starts
  const planned = drill.schedule.map((entry, i) => ({
    entry,
    n: nemesisFromSpec(entry, { where: `${drill.file}: schedule[${i}]`, topology }),
  }));
  for (const { entry } of planned)
    if (entry.at >= durationMs)
      throw new Error(
        `${drill.file}: a nemesis at ${entry.at} ms is past the run's duration (${durationMs} ms)`,
      );
  const runDir = resolve(o.runsDir ?? 'runs', drill.name, stamp());
  mkdirSync(runDir, { recursive: true });
  const latest = join(runDir, '..', 'latest');
  rmSync(latest, { force: true });
  symlinkSync(runDir, latest);

  const errors: Record<string, number> = {};
  const faults = new Map<string, string>();
  let phase: DrillProgress['phase'] = 'up';
  let lastOps = 0;
  let lastAt = 0;
  let completed = 0;
  const progress = (detail?: string) => {
    completed = history.events.filter((e) => isClient(e) && e.type !== 'invoke').length;
    const at = history.now();
    const rate = at > lastAt ? ((completed - lastOps) * 1000) / (at - lastAt) : 0;
    lastOps = completed;
    lastAt = at;
    o.onProgress?.({
      phase,
      atMs: Math.round(at),
      ops: completed,
      errors,
      faults: [...faults.values()],
      opsPerSec: Math.round(rate),
      detail,
    });
  };

  // db: the cluster on links (idempotent: what runs is kept)
  const stateDir = resolveStateDir(o.stateDir);
  const status: ClusterStatus = await up(topology, { stateDir }, o.onUp);
  if (!status.healthy)
    throw new Error(
      `the cluster is not healthy after up: ${status.processes
        .filter((p) => !p.ready)
        .map((p) => p.name)
        .join(', ')}`,
    );
  // the cluster's secrets for the run's own clients (GZS, MariaDB, Redis): the CLI applied those of
  // --topology's cluster, and a drill may name another topology
  const secrets = readClusterSecrets(clusterDir(stateDir, topology.name));
  if (secrets) applySecretsEnv(secrets);
  const gzsUrl = controlGzsUrl(topology);
  const gzs = new GzsApi(gzsUrl);
  const linksPort = topology.deployment.links?.port;
  if (!linksPort)
    throw new Error(`${topology.file}: no deployment.links: a drill runs on links (ezctl up starts them)`);
  const links = await LinkSet.attach({ toxiproxy: `http://127.0.0.1:${linksPort}`, topology });
  // the history (and its clock: the schedule's times) starts once the cluster is up
  const history = new HistoryWriter(join(runDir, 'history.jsonl'));
  const ctx: NemesisContext = { topology, stateDir, links, gzs, history, log: (line) => progress(line) };

  phase = 'run';
  // replication lag per direction over time (each replicator's heartbeat lag, every second)
  const lag = new Map<string, { from: string; to: string; samples: [number, number | null][] }>();
  const sampleLag = async () => {
    const at = Math.round(history.now());
    for (const d of await drcStatus(topology).catch(() => [])) {
      const key = `${d.from}->${d.to}`;
      if (!lag.has(key)) lag.set(key, { from: d.from, to: d.to, samples: [] });
      lag.get(key)!.samples.push([at, d.lag?.nowMs ?? null]);
    }
  };
  const tick = setInterval(() => {
    progress();
    void sampleLag();
  }, 1000);
  tick.unref();
  // the schedule: each entry started at its time, a fault stopped after its `for`
  const inForce = new Set<Nemesis>();
  const timers: NodeJS.Timeout[] = [];
  const pending: Promise<unknown>[] = [];
  for (const [i, { entry, n }] of planned.entries()) {
    const key = `${i}:${n.name}`;
    timers.push(
      setTimeout(() => {
        faults.set(key, n.describe());
        if (n.stop) inForce.add(n);
        const started = runNemesis(n, 'start', ctx).then(() => {
          if (!n.stop) faults.delete(key);
        });
        pending.push(started);
        if (n.stop && entry.for !== undefined)
          timers.push(
            setTimeout(() => {
              pending.push(
                started
                  .then(() => (inForce.delete(n) ? runNemesis(n, 'stop', ctx) : undefined))
                  .then(() => faults.delete(key)),
              );
            }, entry.for),
          );
      }, entry.at),
    );
  }
  let clients: Awaited<ReturnType<typeof runClients>>;
  try {
    clients = await runClients({
      topology,
      routerUrl: controlRouterUrl(topology),
      history,
      seed,
      rate: drill.workload.rate,
      concurrency: drill.workload.concurrency,
      cancelRate: drill.workload.cancelRate,
      reads: drill.workload.reads,
      registrations: drill.workload.registrations,
      timeoutMs: drill.workload.timeout,
      untilMs: durationMs,
    });
  } finally {
    // a stop not yet due is run now (heal); a start not yet due never happens
    for (const t of timers) clearTimeout(t);
  }
  for (const e of history.events)
    if (isClient(e) && e.type !== 'invoke' && e.type !== 'ok' && e.error)
      errors[e.error] = (errors[e.error] ?? 0) + 1;

  // heal: let started actions finish, stop every fault still in force, bring back what is down
  phase = 'heal';
  progress();
  await Promise.all(pending);
  for (const n of [...inForce]) {
    inForce.delete(n);
    await runNemesis(n, 'stop', ctx);
  }
  faults.clear();
  await links.heal().catch(() => undefined);
  await up(topology, { stateDir }).catch((err) => progress(`up after the drill: ${errorMessage(err)}`));

  phase = 'drain';
  progress();
  const acked = history.events.filter((e) => isClient(e) && e.f === 'create' && e.type === 'ok' && e.orderId);
  const drain = await drainCluster({
    topology,
    gzsUrl,
    orderIds: acked.map((e) => (e as { orderId: string }).orderId),
    timeoutMs: drill.drain,
    onWait: (why) => progress(`waiting for: ${why.join('; ')}`),
  });
  clearInterval(tick);

  phase = 'check';
  progress();
  const check: CheckContext = {
    drill: {
      name: drill.name,
      file: drill.file,
      seed,
      durationMs,
      schedule: drill.schedule,
      expect: drill.expect,
    },
    topology,
    events: history.events as HistoryEvent[],
    drain,
    gzsHistory: await gzs
      .history(0)
      .then((h) => h.entries)
      .catch((err) => ({ error: errorMessage(err) })),
    illegalWrites: await listIllegalWrites(topology, { limit: 100_000 })
      .then((rows) =>
        rows.map((r) => ({ origin: r.origin, table: r.table, pk: r.pk, writtenAt: r.writtenAt })),
      )
      .catch((err) => ({ error: errorMessage(err) })),
    cache: await sampleCache(topology, drain.snapshot.orders).catch((err) => ({ error: errorMessage(err) })),
    clients,
    lag: [...lag.values()],
  };
  history.close();
  const results = checkRun(check);
  storeRun(runDir, check, results);
  await writeRunReport(runDir);
  phase = 'done';
  progress();
  return { runDir, results, exitCode: results.valid ? 0 : 1 };
}

/** After the drain: every cached order entry in every eZone's Redis next to its row. */
async function sampleCache(
  topology: Topology,
  rows: Record<string, Map<string, { state: string; version: number; updatedAt: string }>>,
): Promise<CheckContext['cache']> {
  const out: Exclude<CheckContext['cache'], { error: string }> = [];
  for (const z of topology.zones) {
    const zoneRows = rows[z.id];
    if (!zoneRows) continue;
    const redis = new Redis({
      host: partAddress(topology, z.id, 'redis'),
      port: topology.deployment.zones[z.id].ports.redis,
      password: redisPassword(),
      lazyConnect: true,
      maxRetriesPerRequest: 1,
    });
    try {
      await redis.connect();
      const ids = [...zoneRows.keys()];
      for (let i = 0; i < ids.length; i += 500) {
        const chunk = ids.slice(i, i + 500);
        const values = await redis.mget(...chunk.map((id) => `order:${id}`));
        chunk.forEach((id, k) => {
          const v = values[k];
          // absent, a lease or an invalidation marker: not a cached value
          if (v === null || v.startsWith('\u0000')) return;
          const row = zoneRows.get(id)!;
          let cached: { state: string; version: number; updatedAt: string } | null = null;
          try {
            cached = JSON.parse(v);
          } catch {
            cached = null;
          }
          out.push({
            zone: z.id,
            orderId: id,
            cached,
            row: { state: row.state, version: row.version },
          });
        });
      }
    } finally {
      redis.disconnect();
    }
  }
  return out;
}

async function writeRunReport(runDir: string): Promise<void> {
  const report = await import('../report/index.js').catch(() => null);
  if (report && existsSync(join(runDir, 'history.jsonl'))) await report.writeReport(runDir);
}
