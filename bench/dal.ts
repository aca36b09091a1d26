/**
 * DAL benchmark: the same clients at the same concurrency against one MariaDB, straight and
 * through the DAL, side by side in one run (rounds alternate, so drift hits both alike); prints
 * one JSON line.
 *
 *   npm run bench:dal [-- --threads 16 --seconds 10 --rounds 3 --profile DIR]
 *
 *  - pointSelect, readOnly: sysbench 1.0 `oltp_point_select` / `oltp_read_only` (4 tables of
 *    10 000 rows in database `sbtest`, reads only: unknown tables to the DAL, which reads pass);
 *  - orderUpdates: mysql2 (prepared, 16 connections) single-row updates of the sharded `orders`
 *    table by id — half autocommit, half short transactions of two updates — p99 overhead is the
 *    DAL's p99 minus the direct p99.
 * The DAL runs on the topology's static epoch-1 table (no GZS: nothing else competes for the two
 * cores). TPS is the median over rounds; ratio = DAL / direct. `--profile DIR` writes a CPU
 * profile of the DAL (node --cpu-prof) to see where its time goes.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { parse, stringify } from 'yaml';
import { hostFor, type Spawned } from '../src/launch/host.js';
import { startInstance } from '../src/launch/instance.js';
import { mariadb, mariadbSpec } from '../src/launch/kinds/mariadb.js';
import { OrderIdGenerator } from '../src/routing/index.js';
import { mysqlAccount } from '../src/shared/mysql-accounts.js';
import { LINK_KINDS, loadTopology, type Topology, ZONE_PORT_OFFSETS } from '../src/topology/index.js';
import { freePort, freePortRun } from '../src/util/net.js';
import { fixturesDir, projectRoot } from '../src/util/paths.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    profile: { type: 'string' },
    /** how the DAL reaches MariaDB: its unix socket (as `ezctl up` runs it) or loopback TCP */
    backend: { type: 'string', default: 'socket' },

    keep: { type: 'boolean', default: false },
  },
});
const THREADS = Number(values.threads);
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const ORDERS = 20_000;

const host = hostFor('local');
const root = mkdtempSync(join(tmpdir(), 'ezb-dal-'));
const cleanups: (() => Promise<void>)[] = [];
const say = (msg: string) => process.stderr.write(`[bench:dal] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const app = mysqlAccount('app');

async function startDb(): Promise<{ port: number; socket: string }> {
  const dataDir = join(root, 'mariadb');
  const spec = mariadbSpec({
    name: 'mariadb',
    port: await freePort(),
    dataDir,
    serverId: 1,
    database: 'ezshop',
  });
  const proc: Spawned = await startInstance(mariadb, spec, host);
  cleanups.push(() => mariadb.stop(spec, host, proc.pid, proc.startToken));
  return { port: spec.port, socket: spec.params.socket };
}

/** two-zones with ez-bj on the benchmark's MariaDB and free ports for everything else. */
async function writeTopology(mysqlPort: number): Promise<Topology> {
  const src = join(fixturesDir(), 'topologies', 'two-zones.yaml');
  const doc = parse(readFileSync(src, 'utf8'));
  doc.fences = join(fixturesDir(), 'fences', 'china.geojson');
  for (const k of ['gzs', 'router', 'zookeeper'])
    if (doc.deployment[k]) doc.deployment[k].port = await freePort();
  // the link server's API port and every link's listen port above it (reserved by the loader)
  doc.deployment.links = { host: 'local', port: await freePortRun(1 + 3 * 2 * LINK_KINDS.length) };
  for (const z of Object.keys(doc.deployment.zones)) {
    const ports: Record<string, number> = {};
    for (const k of Object.keys(ZONE_PORT_OFFSETS)) ports[k] = await freePort();
    if (z === 'ez-bj') ports.mysql = mysqlPort;
    doc.deployment.zones[z] = { host: 'local', ports };
  }
  const file = join(root, 'topology.yaml');
  writeFileSync(file, stringify(doc));
  return loadTopology(file);
}

function startDal(topology: Topology, socket: string): ChildProcess {
  const nodeArgs = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] : [];
  if (values.profile) mkdirSync(values.profile, { recursive: true });
  const p = spawn(
    process.execPath,
    [
      ...nodeArgs,
      join(projectRoot(), 'dist', 'src', 'dal', 'main.js'),
      '--topology',
      topology.file,
      '--zone',
      'ez-bj',
      '--static',
      ...(values.backend === 'socket' ? ['--backend', socket] : []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, EZ_LOG_LEVEL: 'warn' } },
  );
  const log = join(root, 'dal.log');
  p.stdout?.on('data', (b) => writeFileSync(log, b, { flag: 'a' }));
  p.stderr?.on('data', (b) => writeFileSync(log, b, { flag: 'a' }));
  cleanups.push(async () => {
    if (p.exitCode !== null || p.signalCode !== null) return;
    p.kill('SIGTERM');
    await Promise.race([new Promise((r) => p.once('exit', r)), sleep(15_000)]);
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  });
  return p;
}

/**
 * The floor any proxy in Node pays here: a bare TCP pipe (client socket piped to a MariaDB socket,
 * nothing judged), run side by side as a reference for pointSelect.
 */
function startPipeProxy(listenPort: number, socket: string): ChildProcess {
  const script = `const net = require('node:net');
net.createServer({ noDelay: true }, (c) => {
  const b = net.connect({ path: ${JSON.stringify(socket)} });
  c.pipe(b); b.pipe(c);
  c.on('error', () => b.destroy()); b.on('error', () => c.destroy());
  c.on('close', () => b.destroy()); b.on('close', () => c.destroy());
}).listen(${listenPort}, '127.0.0.1');`;
  const p = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  cleanups.push(async () => {
    p.kill('SIGKILL');
  });
  return p;
}

/**
 * A C proxy as the second reference: haproxy in TCP mode, one thread like the DAL, to the same
 * socket. What a proxy that does nothing but copy bytes costs on this machine.
 */
async function startHaproxy(listenPort: number, socket: string): Promise<boolean> {
  const which = await run('sh', ['-c', 'command -v haproxy']).catch(() => null);
  if (!which) return false;
  const cfg = join(root, 'haproxy.cfg');
  writeFileSync(
    cfg,
    `global\n  maxconn 2000\n  nbthread 1\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 120s\n  timeout server 120s\nlisten mysql\n  bind 127.0.0.1:${listenPort}\n  server db unix@${socket}\n`,
  );
  const p = spawn('haproxy', ['-db', '-f', cfg], { stdio: 'ignore' });
  cleanups.push(async () => {
    p.kill('SIGKILL');
  });
  await sleep(300);
  return p.exitCode === null;
}

/** CPU seconds (user + system) a process has used: /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function dalHealth(topology: Topology): Promise<Record<string, any>> {
  return (
    await fetch(`http://127.0.0.1:${topology.deployment.zones['ez-bj'].ports.dalHttp}/healthz`)
  ).json() as Promise<Record<string, any>>;
}

async function waitDal(topology: Topology): Promise<void> {
  for (let i = 0; i < 400; i++) {
    try {
      if ((await dalHealth(topology)).ready) return;
    } catch {
      // not listening yet
    }
    await sleep(25);
  }
  throw new Error(`the DAL did not get ready; see ${join(root, 'dal.log')}`);
}

// ---- sysbench -------------------------------------------------------------------------------

const SB = [
  '--mysql-db=sbtest',
  '--tables=4',
  '--table-size=10000',
  '--db-ps-mode=auto',
  '--rand-type=uniform',
];

async function sysbench(test: string, port: number): Promise<number> {
  const { stdout } = await run(
    'sysbench',
    [
      test,
      ...SB,
      '--mysql-host=127.0.0.1',
      `--mysql-port=${port}`,
      `--mysql-user=${app.user}`,
      `--mysql-password=${app.password}`,
      `--threads=${THREADS}`,
      `--time=${SECONDS}`,
      '--report-interval=0',
      'run',
    ],
    { maxBuffer: 16 << 20 },
  ).catch((err: { stdout?: string; stderr?: string; message: string }) => {
    throw new Error(
      `sysbench ${test} on port ${port} failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`,
    );
  });
  const m = /transactions:\s+\d+\s+\(([\d.]+) per sec/.exec(stdout);
  const errs = /ignored errors:\s+(\d+)/.exec(stdout);
  if (!m) throw new Error(`sysbench ${test} printed no transactions line:\n${stdout}`);
  if (errs && Number(errs[1]) > 0) throw new Error(`sysbench ${test} on port ${port}: ${errs[1]} errors`);
  return Number(m[1]);
}

// ---- order updates --------------------------------------------------------------------------

async function orderUpdates(port: number, ids: string[]): Promise<{ tps: number; p99Ms: number }> {
  const conns = await Promise.all(
    Array.from({ length: THREADS }, () =>
      mysql.createConnection({
        host: '127.0.0.1',
        port,
        user: app.user,
        password: app.password,
        database: 'ezshop',
      }),
    ),
  );
  const lat: number[] = [];
  let txns = 0;
  const until = performance.now() + SECONDS * 1000;
  await Promise.all(
    conns.map(async (c, k) => {
      let i = k;
      while (performance.now() < until) {
        const id = ids[(i * 7919) % ids.length];
        const t0 = performance.now();
        if (i % 2 === 0) {
          await c.execute('UPDATE orders SET version = version + 1, updated_at = NOW(6) WHERE id = ?', [id]);
        } else {
          await c.query('BEGIN');
          await c.execute("UPDATE orders SET state = 'accepted', updated_at = NOW(6) WHERE id = ?", [id]);
          await c.execute('UPDATE orders SET version = version + 1, updated_at = NOW(6) WHERE id = ?', [id]);
          await c.query('COMMIT');
        }
        lat.push(performance.now() - t0);
        txns++;
        i += THREADS;
      }
    }),
  );
  await Promise.all(conns.map((c) => c.end()));
  lat.sort((a, b) => a - b);
  return { tps: txns / SECONDS, p99Ms: lat[Math.floor(lat.length * 0.99)] };
}

async function cleanup(): Promise<void> {
  for (const f of cleanups.reverse()) await f().catch(() => undefined);
  if (!values.keep) rmSync(root, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => cleanup().then(() => process.exit(130)));

try {
  say('starting MariaDB');
  const db = await startDb();
  const topology = await writeTopology(db.port);
  const dalPort = topology.deployment.zones['ez-bj'].ports.dal;
  const dal = startDal(topology, db.socket);
  await waitDal(topology);
  const pipePort = await freePort();
  const pipe = startPipeProxy(pipePort, db.socket);
  const haproxyPort = await freePort();
  const haproxy = await startHaproxy(haproxyPort, db.socket);

  say('sysbench prepare (4 × 10 000 rows) and orders');
  const r = await mysql.createConnection({ socketPath: db.socket, user: 'root', database: 'ezshop' });
  await r.query('CREATE DATABASE IF NOT EXISTS sbtest');
  await r.query(`GRANT SELECT ON sbtest.* TO '${app.user}'@'127.0.0.1', '${app.user}'@'localhost'`);
  await run('sysbench', [
    'oltp_read_only',
    ...SB,
    `--mysql-socket=${db.socket}`,
    '--mysql-user=root',
    '--threads=4',
    'prepare',
  ]);
  // orders of the shards ez-bj owns, ids with their shard in them (DESIGN §2)
  const owned = [...topology.shards].filter(([, z]) => z === 'ez-bj').map(([s]) => s);
  const gens = owned.map((s) => new OrderIdGenerator(s));
  const ids: string[] = [];
  const rowsOf: string[] = [];
  for (let i = 0; i < ORDERS; i++) {
    const id = gens[i % owned.length].next();
    ids.push(id);
    rowsOf.push(`(${id}, ${owned[i % owned.length]}, 'u', 'm', 'placed', 1, NOW(6), NOW(6))`);
  }
  for (let i = 0; i < rowsOf.length; i += 1000) {
    const rows = rowsOf.slice(i, i + 1000);
    await r.query(
      `INSERT INTO orders (id, shard_id, user_id, merchant_id, state, amount_cents, created_at, updated_at) VALUES ${rows.join(',')}`,
    );
  }
  await r.end();

  const dalCpuPerQueryUs: number[] = [];
  const pipeCpuPerQueryUs: number[] = [];
  const results: Record<string, { dal: number[]; direct: number[]; dalP99: number[]; directP99: number[] }> =
    {};
  const add = (k: string, via: 'dal' | 'direct', tps: number, p99?: number) => {
    results[k] ??= { dal: [], direct: [], dalP99: [], directP99: [] };
    results[k][via].push(tps);
    if (p99 !== undefined) results[k][via === 'dal' ? 'dalP99' : 'directP99'].push(p99);
  };
  say('warm-up');
  await sysbench('oltp_point_select', db.port);
  await sysbench('oltp_point_select', dalPort);
  for (let round = 1; round <= ROUNDS; round++) {
    // alternate which goes first, so a trend over time favours neither
    const order: ('dal' | 'direct')[] = round % 2 ? ['direct', 'dal'] : ['dal', 'direct'];
    for (const via of order) {
      const port = via === 'dal' ? dalPort : db.port;
      const cpu0 = cpuSeconds(dal.pid!);
      add('pointSelect', via, await sysbench('oltp_point_select', port));
      if (via === 'dal')
        dalCpuPerQueryUs.push(
          ((cpuSeconds(dal.pid!) - cpu0) / (results.pointSelect.dal.at(-1)! * SECONDS)) * 1e6,
        );
      if (via === 'direct') {
        const p0 = cpuSeconds(pipe.pid!);
        add('pipe', 'dal', await sysbench('oltp_point_select', pipePort));
        pipeCpuPerQueryUs.push(((cpuSeconds(pipe.pid!) - p0) / (results.pipe.dal.at(-1)! * SECONDS)) * 1e6);
      }
      if (via === 'direct' && haproxy)
        add('haproxy', 'dal', await sysbench('oltp_point_select', haproxyPort));
      add('readOnly', via, await sysbench('oltp_read_only', port));
      const u = await orderUpdates(port, ids);
      add('orderUpdates', via, u.tps, u.p99Ms);
      say(
        `round ${round} ${via}: pointSelect ${results.pointSelect[via].at(-1)!.toFixed(0)} tps, readOnly ${results.readOnly[via].at(-1)!.toFixed(0)} tps, orderUpdates ${u.tps.toFixed(0)} tps p99 ${u.p99Ms.toFixed(2)} ms`,
      );
    }
  }
  const h = await dalHealth(topology);
  const pair = (k: string) => {
    const x = results[k];
    const dalTps = median(x.dal);
    const directTps = median(x.direct);
    return {
      dalTps: Math.round(dalTps),
      directTps: Math.round(directTps),
      ratio: Number((dalTps / directTps).toFixed(3)),
    };
  };
  const upd = results.orderUpdates;
  process.stdout.write(
    `${JSON.stringify({
      pointSelect: pair('pointSelect'),
      readOnly: pair('readOnly'),
      orderUpdates: {
        ...pair('orderUpdates'),
        p99OverheadMs: Number((median(upd.dalP99) - median(upd.directP99)).toFixed(3)),
        dalP99Ms: Number(median(upd.dalP99).toFixed(3)),
        directP99Ms: Number(median(upd.directP99).toFixed(3)),
      },
      reference: {
        // a bare Node TCP pipe to the same MariaDB socket: the floor of any Node proxy on this machine
        pipeProxyPointSelectRatio: Number(
          (median(results.pipe.dal) / median(results.pointSelect.direct)).toFixed(3),
        ),
        // haproxy (TCP mode, one thread): a C proxy that only copies bytes; null when not installed
        haproxyPointSelectRatio: haproxy
          ? Number((median(results.haproxy.dal) / median(results.pointSelect.direct)).toFixed(3))
          : null,
        dalCpuUsPerPointSelect: Number(median(dalCpuPerQueryUs).toFixed(1)),
        pipeCpuUsPerPointSelect: Number(median(pipeCpuPerQueryUs).toFixed(1)),
      },
      parseCacheHitRate: h.planCache.hitRate === null ? null : Number(h.planCache.hitRate.toFixed(5)),
      backend: values.backend,
      threads: THREADS,
      seconds: SECONDS,
      rounds: ROUNDS,
    })}\n`,
  );
  await cleanup();
} catch (err) {
  say(`failed: ${(err as Error).stack ?? err}`);
  say(`logs kept in ${root}`);
  values.keep = true;
  await cleanup();
  process.exit(1);
}
