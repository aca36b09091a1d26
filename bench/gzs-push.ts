/**
 * Push latency of GZS to many SDK subscribers (`npm run bench:gzs-push`): one GZS process (file
 * store, fsync per change), N worker processes × M RoutingClients each (default 4 × 250 = 1,000,
 * every one a holder that acknowledges epochs, so GZS carries the ack traffic too). The bench makes
 * `--changes` changes (default 30, one every `--interval` ms) and measures, per subscriber and
 * change, the time from the change's acknowledgement (GZS stamps the moment it writes the HTTP
 * answer, after the change is durable: x-ez-acked-at) to that subscriber's onTable. One clock for
 * all processes: performance.timeOrigin + performance.now().
 * Prints one JSON line:
 *   {"subscribers":1000,"changes":30,"p50Ms":…,"p99Ms":…,"maxMs":…,"allHeldP50Ms":…,"allHeldMaxMs":…,…}
 * where allHeld* is, per change, the time until the LAST subscriber held it.
 * Options: --workers N --per-worker M --changes C --interval MS --cache (each client writes its cache
 * file) --gzs URL [--gzs-pid PID] (a GZS started elsewhere; token from EZ_GZS_TOKEN)
 * --failover-rules (first the table a failover leaves: one order-lock rule per shard of ez-bj)
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { startGzsProcess } from '../src/gzs/testkit.js';
import { FenceIndex } from '../src/routing/index.js';
import { RoutingClient } from '../src/sdk/client.js';
import { loadTopology } from '../src/topology/index.js';

const now = (): number => performance.timeOrigin + performance.now();

type ToWorker = { t: 'mark' } | { t: 'collect' } | { t: 'stop' };

/** CPU ms (user + system) a process has used so far, from /proc (Linux). */
function procCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // clock ticks (USER_HZ = 100)
  } catch {
    return Number.NaN;
  }
}
type FromWorker =
  | { t: 'ready'; clients: number }
  | { t: 'held'; epoch: number; count: number }
  | { t: 'samples'; samples: [epoch: number, at: number][]; cpuMs: number };

async function worker(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      count: { type: 'string' },
      id: { type: 'string' },
      cache: { type: 'string' },
    },
  });
  const send = (m: FromWorker): boolean => process.send!(m);
  const fences = FenceIndex.build(loadTopology().fences);
  const count = Number(values.count);
  const samples: [number, number][] = [];
  const heldBy = new Map<number, number>();
  const clients: RoutingClient[] = [];
  for (let i = 0; i < count; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, (_, k) =>
        RoutingClient.start({
          gzs: [values.url!],
          fences,
          holder: { id: `bench-${values.id}-${i + k}`, kind: 'bench', zone: null },
          cacheFile: values.cache ? join(values.cache, `${values.id}-${i + k}.json`) : undefined,
        }),
      ),
    );
    clients.push(...batch);
  }
  for (const c of clients) {
    c.onTable((t) => {
      samples.push([t.epoch, now()]);
      const n = (heldBy.get(t.epoch) ?? 0) + 1;
      heldBy.set(t.epoch, n);
      if (n === clients.length) send({ t: 'held', epoch: t.epoch, count: n });
    });
  }
  let cpu0 = process.cpuUsage();
  send({ t: 'ready', clients: clients.length });
  process.on('message', async (m: ToWorker) => {
    if (m.t === 'collect') {
      const cpu = process.cpuUsage(cpu0);
      send({ t: 'samples', samples, cpuMs: (cpu.user + cpu.system) / 1000 });
    }
    if (m.t === 'mark') cpu0 = process.cpuUsage();
    if (m.t === 'stop') {
      await Promise.all(clients.map((c) => c.close()));
      process.exit(0);
    }
  });
}

const pct = (sorted: number[], p: number): number =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const round = (n: number): number => Math.round(n * 100) / 100;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      workers: { type: 'string', default: '4' },
      'per-worker': { type: 'string', default: '250' },
      changes: { type: 'string', default: '30' },
      interval: { type: 'string', default: '200' },
      cache: { type: 'boolean', default: false },
      gzs: { type: 'string' },
      'gzs-pid': { type: 'string' },
      'failover-rules': { type: 'boolean', default: false },
    },
  });
  const workers = Number(values.workers);
  const perWorker = Number(values['per-worker']);
  const changes = Number(values.changes);
  const interval = Number(values.interval);
  const dir = mkdtempSync(join(tmpdir(), 'ez-bench-gzs-'));
  // --gzs URL: measure a GZS started elsewhere (e.g. over ZooKeeper, or under a profiler)
  const gzs = values.gzs
    ? {
        url: values.gzs,
        token: process.env.EZ_GZS_TOKEN ?? 'ezctl-dev-token',
        pid: Number(values['gzs-pid'] ?? 0),
        stop: async () => {},
      }
    : await startGzsProcess({
        store: `file:${join(dir, 'table.json')}`,
        logFile: join(dir, 'gzs.log'),
        readyTimeoutMs: 20_000,
      });
  const children: ChildProcess[] = [];
  const stopAll = async (): Promise<void> => {
    for (const c of children) c.kill('SIGKILL');
    await gzs.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    const self = fileURLToPath(import.meta.url);
    const held = new Map<number, number>(); // epoch → workers holding it on all their clients
    await Promise.all(
      Array.from({ length: workers }, (_, w) => {
        const args = ['--worker', '--url', gzs.url, '--count', String(perWorker), '--id', `w${w}`];
        if (values.cache) args.push('--cache', join(dir, 'caches'));
        const execArgv = process.env.EZ_BENCH_PROF
          ? ['--cpu-prof', `--cpu-prof-dir=${process.env.EZ_BENCH_PROF}`]
          : [];
        const child = fork(self, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
        children.push(child);
        child.on('message', (m: FromWorker) => {
          if (m.t === 'held') {
            held.set(m.epoch, (held.get(m.epoch) ?? 0) + 1);
          }
        });
        return new Promise<void>((resolve, reject) => {
          child.on('message', (m: FromWorker) => {
            if (m.t === 'ready') resolve();
          });
          child.once('exit', (code) => reject(new Error(`worker ${w} exited (${code}) before it was ready`)));
        });
      }),
    );
    await new Promise((r) => setTimeout(r, 1000)); // settle: hellos, first acks
    if (values['failover-rules']) {
      // the table a failover of ez-bj leaves: its shards at ez-sh, one order-lock rule per shard
      // (every order made before now locked, however many there are: bench:order-locks)
      const topology = loadTopology();
      const lost = [...topology.shards].filter(([, z]) => z === 'ez-bj').map(([shard]) => shard);
      const res = await request(`${gzs.url}/changes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gzs.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          changes: lost.flatMap((shard) => [
            { op: 'owner', shard, zone: 'ez-sh' },
            {
              op: 'order-lock-rule',
              shard,
              zone: 'ez-bj',
              createdBeforeMs: Date.now(),
              reason: 'bench failover',
            },
          ]),
        }),
      });
      const body = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`failover rules: HTTP ${res.statusCode} ${body}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    for (const c of children) c.send({ t: 'mark' } satisfies ToWorker);
    const gzsCpu0 = procCpuMs(gzs.pid);
    const wall0 = now();
    const acked = new Map<number, number>();
    const received = new Map<number, number>();
    let tableBytes = 0;
    for (let i = 0; i < changes; i++) {
      const shard = i % 40;
      const t0 = now();
      const res = await request(`${gzs.url}/shards/${shard}/${i % 80 < 40 ? 'lock' : 'unlock'}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gzs.token}` },
      });
      const body = await res.body.text();
      const tAck = now();
      if (res.statusCode !== 200) throw new Error(`change ${i}: HTTP ${res.statusCode} ${body}`);
      const parsed = JSON.parse(body) as { epoch: number; table: unknown };
      // the moment GZS acknowledged (stamped by GZS as it writes the answer, same clock as ours)
      acked.set(parsed.epoch, Number(res.headers['x-ez-acked-at']));
      received.set(parsed.epoch, tAck);
      tableBytes = JSON.stringify(parsed.table).length;
      if (i === 0) process.stderr.write(`first change acknowledged in ${round(tAck - t0)} ms\n`);
      await new Promise((r) => setTimeout(r, interval));
    }
    const last = Math.max(...acked.keys());
    const deadline = Date.now() + 10_000;
    while ((held.get(last) ?? 0) < workers && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    const wallMs = now() - wall0;
    const gzsCpuMs = procCpuMs(gzs.pid) - gzsCpu0;
    const reports = await Promise.all(
      children.map(
        (c) =>
          new Promise<{ samples: [number, number][]; cpuMs: number }>((resolve) => {
            c.on('message', (m: FromWorker) => {
              if (m.t === 'samples') resolve(m);
            });
            c.send({ t: 'collect' } satisfies ToWorker);
          }),
      ),
    );
    const samples = reports.flatMap((r) => r.samples);
    const workerCpuMs = reports.reduce((n, r) => n + r.cpuMs, 0);
    const latencies: number[] = [];
    const fromReceipt: number[] = [];
    for (const [epoch, at] of samples) {
      const t = acked.get(epoch);
      if (t === undefined) continue;
      latencies.push(at - t);
      fromReceipt.push(at - received.get(epoch)!);
    }
    latencies.sort((a, b) => a - b);
    fromReceipt.sort((a, b) => a - b);
    const subscribers = workers * perWorker;
    const expected = subscribers * acked.size;
    // per change: when its last subscriber held it (a change some subscriber missed counts as infinite)
    const lastAt = new Map<number, number>();
    const count = new Map<number, number>();
    for (const [epoch, at] of samples) {
      lastAt.set(epoch, Math.max(lastAt.get(epoch) ?? 0, at));
      count.set(epoch, (count.get(epoch) ?? 0) + 1);
    }
    const allHeld = [...acked]
      .map(([epoch, t]) =>
        count.get(epoch) === subscribers ? lastAt.get(epoch)! - t : Number.POSITIVE_INFINITY,
      )
      .sort((a, b) => a - b);
    const out = {
      subscribers,
      workers,
      changes: acked.size,
      p50Ms: round(pct(latencies, 50)),
      p99Ms: round(pct(latencies, 99)),
      maxMs: round(latencies.at(-1) ?? Number.NaN),
      minMs: round(latencies[0] ?? Number.NaN),
      // the same, counted from when this bench process read the answer (later, so smaller)
      p99MsFromAnswerRead: round(pct(fromReceipt, 99)),
      allHeldP50Ms: round(pct(allHeld, 50)),
      allHeldMaxMs: round(allHeld.at(-1) ?? Number.NaN),
      missed: expected - latencies.length,
      tableBytes,
      cacheFiles: values.cache,
      // CPU used during the change phase (2 cores here): where the time goes
      cpuGzsMsPerChange: round(gzsCpuMs / acked.size),
      cpuWorkersMsPerChange: round(workerCpuMs / acked.size),
      wallMsPerChange: round(wallMs / acked.size),
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
    for (const c of children) c.send({ t: 'stop' } satisfies ToWorker);
    await Promise.all(
      children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))),
    );
  } finally {
    await stopAll();
  }
}

if (process.argv.includes('--worker')) {
  process.argv.splice(process.argv.indexOf('--worker'), 1);
  worker().catch((err) => {
    process.stderr.write(`worker: ${(err as Error).message}\n`);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    process.stderr.write(`bench:gzs-push: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
