/**
 * DRC benchmark: two eZones (real MariaDB each) replicating both ways, prints one JSON line.
 *
 *   npm run bench:drc [-- --rate 2000 --seconds 30 --warmup 5 --backlog 100000 --only links|direct --profile DIR]
 *
 * Per run (once through the built-in link server at 30 ms RTT, once direct):
 *  1. load: each eZone writes `--rate` row changes/s of orders (transactions of 2 inserts + 2 updates
 *     of its own recent orders) for `--warmup` + `--seconds`; both replicators run; only the last
 *     `--seconds` are measured (the first seconds of a fresh MariaDB are slower: it grows its files). Lag = heartbeat lag (every
 *     100 ms per direction, from each replicator's --lag-log), pooled over both directions, inside
 *     the load window; row lag = apply commit minus the row's updated_at (set by NOW(6)).
 *  2. drain: both replicators stopped, ez-bj writes a backlog of `--backlog` row changes (same
 *     transaction shape, new orders only). Then MariaDB's native replication (a third instance,
 *     CHANGE MASTER … MASTER_USE_GTID=slave_pos, single SQL thread, direct) drains it, then the
 *     replicator ez-bj → ez-sh (same path as the load) drains it; rows/s = backlog rows / time
 *     from start to the last row applied.
 * Headline fields are the links run; `direct` holds the run without links.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import mysql, { type Connection } from 'mysql2/promise';
import { parse, stringify } from 'yaml';
import {
  currentPosition,
  drcPort,
  installDrc,
  ownSequence,
  tableSpecs,
  waitApplied,
} from '../src/drc/index.js';
import { hostFor, type Spawned } from '../src/launch/host.js';
import { startInstance } from '../src/launch/instance.js';
import { mariadb, mariadbSpec } from '../src/launch/kinds/mariadb.js';
import { createLinks } from '../src/links/index.js';
import { mysqlAccount } from '../src/shared/mysql-accounts.js';
import {
  LINK_KINDS,
  linksApiPort,
  loadTopology,
  reach,
  type Topology,
  ZONE_PORT_OFFSETS,
} from '../src/topology/index.js';
import { freePort, freePortRun } from '../src/util/net.js';
import { formatHostPort } from '../src/util/parse.js';
import { fixturesDir, projectRoot } from '../src/util/paths.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '5' },
    backlog: { type: 'string', default: '100000' },
    only: { type: 'string' },
    profile: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const BACKLOG = Number(values.backlog);
const ROWS_PER_TXN = 4;

const host = hostFor('local');
const root = mkdtempSync(join(tmpdir(), 'ezb-'));
const cleanups: (() => Promise<void>)[] = [];
const say = (msg: string) => process.stderr.write(`[bench:drc] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Db {
  port: number;
  socket: string;
  serverId: number;
  rootOptions: mysql.ConnectionOptions;
  root(): Promise<Connection>;
  app(): Promise<Connection>;
}

async function startDb(name: string, serverId: number): Promise<Db> {
  const dataDir = join(root, name);
  const spec = mariadbSpec({ name, port: await freePort(), dataDir, serverId, database: 'ezshop' });
  const proc: Spawned = await startInstance(mariadb, spec, host);
  cleanups.push(() => mariadb.stop(spec, host, proc.pid, proc.startToken));
  const opts = { dateStrings: true, supportBigNumbers: true, bigNumberStrings: true, database: 'ezshop' };
  const rootOptions = { ...opts, socketPath: spec.params.socket, user: 'root', multipleStatements: true };
  return {
    port: spec.port,
    socket: spec.params.socket,
    serverId,
    rootOptions,
    root: () => mysql.createConnection(rootOptions),
    app: () => {
      const a = mysqlAccount('app');
      return mysql.createConnection({
        ...opts,
        host: '127.0.0.1',
        port: spec.port,
        user: a.user,
        password: a.password,
        multipleStatements: true,
      });
    },
  };
}

function startNode(name: string, args: string[], nodeArgs: string[] = [], logLevel = 'warn'): ChildProcess {
  const p = spawn(process.execPath, [...nodeArgs, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, EZ_LOG_LEVEL: logLevel },
  });
  const log = join(root, `${name}.log`);
  p.stdout?.on('data', (b) => writeFileSync(log, b, { flag: 'a' }));
  p.stderr?.on('data', (b) => writeFileSync(log, b, { flag: 'a' }));
  const stop = async () => {
    if (p.exitCode !== null || p.signalCode !== null) return;
    p.kill('SIGTERM');
    await Promise.race([new Promise((r) => p.once('exit', r)), sleep(15_000)]);
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  };
  cleanups.push(stop);
  (p as ChildProcess & { stopGracefully: () => Promise<void> }).stopGracefully = stop;
  return p;
}
const stopProc = (p: ChildProcess) =>
  (p as ChildProcess & { stopGracefully: () => Promise<void> }).stopGracefully();

async function waitHealth(port: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    try {
      await (await fetch(`http://127.0.0.1:${port}/healthz`)).text();
      return;
    } catch {
      await sleep(25);
    }
  }
  throw new Error(`no /healthz on ${port}`);
}
const health = async (port: number) =>
  (await fetch(`http://127.0.0.1:${port}/healthz`)).json() as Promise<any>;

/** The built-in link server on the topology's deployment.links port, as `ezctl up` starts it. */
async function startLinkServer(topology: Topology): Promise<string> {
  const port = linksApiPort(topology);
  startNode('links', [
    join(projectRoot(), 'dist', 'src', 'links', 'main.js'),
    '--topology',
    topology.file,
    '--port',
    String(port),
    '--seed',
    '1',
  ]);
  await waitHealth(port);
  return `http://127.0.0.1:${port}`;
}

async function writeTopology(dir: string, dbs: Record<string, Db>): Promise<Topology> {
  const src = join(fixturesDir(), 'topologies', 'two-zones.yaml');
  const doc = parse(readFileSync(src, 'utf8'));
  doc.fences = join(fixturesDir(), 'fences', 'china.geojson');
  for (const k of ['gzs', 'router', 'zookeeper'])
    if (doc.deployment[k]) doc.deployment[k].port = await freePort();
  // the link server's API port and, right above it, every link's listen port (as `ezctl up` plans them)
  doc.deployment.links = { host: 'local', port: await freePortRun(1 + 3 * 2 * LINK_KINDS.length) };
  for (const z of Object.keys(doc.deployment.zones)) {
    const ports: Record<string, number> = {};
    for (const k of Object.keys(ZONE_PORT_OFFSETS)) if (k !== 'mysql') ports[k] = await freePort();
    ports.mysql = dbs[z].port;
    doc.deployment.zones[z] = { host: 'local', ports };
  }
  const file = join(dir, 'topology.yaml');
  writeFileSync(file, stringify(doc));
  return loadTopology(file);
}

async function binlogSeq(db: Db): Promise<{ pos: string; seq: bigint }> {
  const c = await db.root();
  try {
    const p = await currentPosition(c, db.serverId);
    return { pos: p.gtidPos, seq: p.seq };
  } finally {
    await c.end();
  }
}
const waitCheckpoint = (target: Db, from: string, to: string, sid: number, seq: bigint) =>
  waitApplied({ target: target.rootOptions, from, to, fromServerId: sid, seq, timeoutMs: 600_000 });

/**
 * Writer: transactions of 2 inserts + 2 updates of its own recent orders; paced at `rate` row
 * changes/s for `ms`, or unpaced until `maxRows`.
 */
async function load(
  db: Db,
  idBase: number,
  shard: number,
  o: { rate: number; ms: number } | { maxRows: number },
  conns = 4,
) {
  const txnRate = 'rate' in o ? o.rate / ROWS_PER_TXN : 0;
  const t0 = performance.now();
  let issued = 0;
  let rows = 0;
  let deadlocks = 0;
  let nextId = idBase;
  const recent: number[] = [];
  const worker = async () => {
    const c = await db.app();
    for (;;) {
      const i = issued++;
      if ('rate' in o) {
        const due = t0 + (i * 1000) / txnRate;
        if (due > t0 + o.ms) break;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
      } else if (i * ROWS_PER_TXN >= o.maxRows) break;
      const a = nextId++;
      const b = nextId++;
      const u1 = recent.length > 0 ? recent[Math.floor(Math.random() * recent.length)] : a;
      const u2 = recent.length > 0 ? recent[Math.floor(Math.random() * recent.length)] : b;
      const sql = `START TRANSACTION;
INSERT INTO orders (id, shard_id, user_id, merchant_id, state, amount_cents, created_at, updated_at) VALUES
 (${a}, ${shard}, 'u-${a % 997}', 'm-${a % 101}', 'placed', ${a % 5000}, NOW(6), NOW(6)),
 (${b}, ${shard}, 'u-${b % 997}', 'm-${b % 101}', 'placed', ${b % 5000}, NOW(6), NOW(6));
UPDATE orders SET version = version + 1, state = 'accepted', updated_at = NOW(6) WHERE id = ${u1};
UPDATE orders SET version = version + 1, state = 'delivered', updated_at = NOW(6) WHERE id = ${u2};
COMMIT`;
      // an application retries InnoDB deadlocks (here: with the applier's gap locks, at the start)
      for (;;) {
        try {
          await c.query(sql);
          break;
        } catch (err) {
          if ((err as { errno?: number }).errno !== 1213) throw err;
          deadlocks++;
          await c.query('ROLLBACK');
        }
      }
      rows += ROWS_PER_TXN;
      recent.push(a, b);
      if (recent.length > 2000) recent.splice(0, 1000);
    }
    await c.end();
  };
  await Promise.all(Array.from({ length: conns }, worker));
  const secs = (performance.now() - t0) / 1000;
  return { rows, secs, rowsPerSec: Math.round(rows / secs), deadlocks };
}

const quantile = (xs: number[], q: number): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
};
const r2 = (x: number) => Math.round(x * 100) / 100;

function lagSamples(files: string[], kind: 'h' | 'r', fromMs: number, toMs: number): number[] {
  const out: number[] = [];
  for (const f of files) {
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const [k, ts, v] = line.split(' ');
      if (k === kind && Number(ts) >= fromMs && Number(ts) <= toMs) out.push(Number(v));
    }
  }
  return out;
}

async function run(viaLinks: boolean) {
  const dir = join(root, viaLinks ? 'links' : 'direct');
  mkdirSync(dir, { recursive: true });
  say(`${viaLinks ? 'links (30 ms RTT)' : 'direct'}: starting 3 MariaDB`);
  const [bj, sh, native] = await Promise.all([
    startDb(`${dir}/bj`.slice(root.length + 1), 1),
    startDb(`${dir}/sh`.slice(root.length + 1), 2),
    startDb(`${dir}/native`.slice(root.length + 1), 3),
  ]);
  const topology = await writeTopology(dir, { 'ez-bj': bj, 'ez-sh': sh });
  for (const db of [bj, sh, native]) {
    const c = await db.root();
    await installDrc(c, 'ezshop', [...tableSpecs(topology).values()]);
    await c.end();
  }
  // on links: the same links `ezctl up` creates (createLinks: the topology's plan and its 30 ms
  // round trip), and each replicator reads its source through `B->A:mysql` as the launcher wires it
  if (viaLinks) await createLinks(topology, await startLinkServer(topology));
  const sourceArgs = (from: string, to: string): string[] => [
    '--source',
    formatHostPort(reach(topology, viaLinks, to, from, 'mysql')),
  ];
  const main = join(projectRoot(), 'dist', 'src', 'drc', 'main.js');
  const replicator = (from: string, to: string, lagLog: string, nodeArgs: string[] = []) => {
    const port = drcPort(topology, from, to);
    const p = startNode(
      `${dir}/drc-${from}-${to}`.slice(root.length + 1).replace(/\//g, '_'),
      [
        main,
        '--topology',
        topology.file,
        '--from',
        from,
        '--to',
        to,
        '--port',
        String(port),
        '--lag-log',
        lagLog,
        ...sourceArgs(from, to),
      ],
      nodeArgs,
    );
    return { p, port };
  };

  // 1. load
  const lagLogs = [join(dir, 'lag-bj-sh.log'), join(dir, 'lag-sh-bj.log')];
  const toSh = replicator('ez-bj', 'ez-sh', lagLogs[0]);
  const toBj = replicator('ez-sh', 'ez-bj', lagLogs[1]);
  await Promise.all([waitHealth(toSh.port), waitHealth(toBj.port)]);
  await sleep(1000);
  say(`load: ${RATE} row changes/s on each eZone, ${WARMUP} s warm-up then ${SECONDS} s measured`);
  const ms = (WARMUP + SECONDS) * 1000;
  const loads = Promise.all([
    load(bj, 1_000_000_000, 0, { rate: RATE, ms }),
    load(sh, 2_000_000_000, 1, { rate: RATE, ms }),
  ]);
  loads.catch(() => undefined); // awaited below; no unhandled rejection while the warm-up sleeps
  // the measured window starts after the warm-up (InnoDB grows its files, the JIT warms up)
  await sleep(WARMUP * 1000);
  const h0 = await Promise.all([health(toSh.port), health(toBj.port)]);
  const t0 = Date.now();
  const [lbj, lsh] = await loads;
  const t1 = Date.now();
  const h1 = await Promise.all([health(toSh.port), health(toBj.port)]);
  const phases = await Promise.all(
    [toSh.port, toBj.port].map(async (port) => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const val = (re: RegExp) => Number(re.exec(text)?.[1] ?? Number.NaN);
      const groups = val(/^ezdrc_group_rows_count\{[^}]*\} (\S+)/m);
      return {
        groups,
        rowsPerGroup: r2(val(/^ezdrc_group_rows_sum\{[^}]*\} (\S+)/m) / groups),
        readMsPerGroup: r2(
          (val(/^ezdrc_apply_seconds_sum\{[^}]*phase="read"[^}]*\} (\S+)/m) * 1000) / groups,
        ),
        writeMsPerGroup: r2(
          (val(/^ezdrc_apply_seconds_sum\{[^}]*phase="write"[^}]*\} (\S+)/m) * 1000) / groups,
        ),
        cpuSeconds: val(/^process_cpu_seconds_total\{[^}]*\} (\S+)/m),
      };
    }),
  );
  const [e1, e2] = await Promise.all([binlogSeq(bj), binlogSeq(sh)]);
  await Promise.all([
    waitCheckpoint(sh, 'ez-bj', 'ez-sh', 1, e1.seq),
    waitCheckpoint(bj, 'ez-sh', 'ez-bj', 2, e2.seq),
  ]);
  const lags = lagSamples(lagLogs, 'h', t0, t1);
  const rowLags = lagSamples(lagLogs, 'r', t0, t1);
  const applied = h1.map((h, i) => (h.appliedRows - h0[i].appliedRows) / ((t1 - t0) / 1000));
  const loadResult = {
    writtenRowsPerSec: { 'ez-bj': lbj.rowsPerSec, 'ez-sh': lsh.rowsPerSec },
    appDeadlocksRetried: lbj.deadlocks + lsh.deadlocks,
    appliedRowsPerSec: { 'ez-bj->ez-sh': Math.round(applied[0]), 'ez-sh->ez-bj': Math.round(applied[1]) },
    heartbeatSamples: lags.length,
    lagP50Ms: r2(quantile(lags, 0.5)),
    lagP99Ms: r2(quantile(lags, 0.99)),
    lagP999Ms: r2(quantile(lags, 0.999)),
    lagMaxMs: r2(Math.max(...lags)),
    rowLagSamples: rowLags.length,
    rowLagP50Ms: r2(quantile(rowLags, 0.5)),
    rowLagP99Ms: r2(quantile(rowLags, 0.99)),
    rowLagP999Ms: r2(quantile(rowLags, 0.999)),
    replicators: { 'ez-bj->ez-sh': phases[0], 'ez-sh->ez-bj': phases[1] },
  };
  say(`load: ${JSON.stringify(loadResult)}`);
  await Promise.all([stopProc(toSh.p), stopProc(toBj.p)]);

  if (BACKLOG <= 0) return { ...loadResult, backlogRows: 0, drcRowsPerSec: 0, nativeRowsPerSec: 0, ratio: 0 };
  // 2. drain: a backlog in ez-bj, drained by native replication, then by DRC
  const start = await binlogSeq(bj);
  say(`drain: writing a backlog of ${BACKLOG} row changes into ez-bj`);
  const backlog = await load(bj, 3_000_000_000, 0, { maxRows: BACKLOG });
  say(`drain: backlog written at ${backlog.rowsPerSec} rows/s`);
  const end = await binlogSeq(bj);
  const rows = Number(end.seq - start.seq) * ROWS_PER_TXN;

  say(`drain: native replication (CHANGE MASTER, MASTER_USE_GTID=slave_pos) of ${rows} row changes`);
  const c3 = await native.root();
  const reader = mysqlAccount('reader');
  await c3.query(`SET GLOBAL gtid_slave_pos = '${start.pos}'`);
  await c3.query(
    `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${bj.port}, MASTER_USER='${reader.user}', MASTER_PASSWORD='${reader.password}', MASTER_USE_GTID=slave_pos`,
  );
  const n0 = performance.now();
  await c3.query('START SLAVE');
  for (;;) {
    const [r] = await c3.query('SELECT @@GLOBAL.gtid_slave_pos AS pos');
    if (ownSequence(String((r as any[])[0].pos), 1) >= end.seq) break;
    const [st] = await c3.query('SHOW SLAVE STATUS');
    const s = (st as any[])[0];
    if (s?.Last_SQL_Error || s?.Last_IO_Error)
      throw new Error(`native replica: ${s.Last_SQL_Error || s.Last_IO_Error}`);
    await sleep(20);
  }
  const nativeSecs = (performance.now() - n0) / 1000;
  await c3.query('STOP SLAVE');
  await c3.end();
  const nativeRowsPerSec = Math.round(rows / nativeSecs);
  say(`drain: native ${nativeRowsPerSec} rows/s (${nativeSecs.toFixed(1)} s)`);

  say(`drain: DRC ez-bj -> ez-sh${viaLinks ? ' through the link' : ''}`);
  const prof = values.profile ? ['--cpu-prof', '--cpu-prof-dir', values.profile] : [];
  const d0 = performance.now();
  const drainer = replicator('ez-bj', 'ez-sh', join(dir, 'lag-drain.log'), prof);
  await waitCheckpoint(sh, 'ez-bj', 'ez-sh', 1, end.seq);
  const drcSecs = (performance.now() - d0) / 1000;
  const hd = await health(drainer.port);
  await stopProc(drainer.p);
  const drcRowsPerSec = Math.round(rows / drcSecs);
  say(`drain: DRC ${drcRowsPerSec} rows/s (${drcSecs.toFixed(1)} s)`);
  return {
    ...loadResult,
    backlogRows: rows,
    drcRowsPerSec,
    nativeRowsPerSec,
    ratio: r2(drcRowsPerSec / nativeRowsPerSec),
    drainApplySeconds: { drc: r2(drcSecs), native: r2(nativeSecs) },
    drainSourceTransactions: hd.appliedTxns,
  };
}

async function cleanup() {
  for (const f of cleanups.reverse()) await f().catch(() => undefined);
  if (!values.keep) rmSync(root, { recursive: true, force: true });
}
// never leave MariaDB, replicators or the link server behind
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => cleanup().then(() => process.exit(130)));
process.on('unhandledRejection', (err) => {
  say(`failed: ${(err as Error)?.stack ?? err}`);
  cleanup().then(() => process.exit(1));
});

try {
  const links = values.only === 'direct' ? null : await run(true);
  if (links) await cleanup().then(() => cleanups.splice(0));
  const direct = values.only === 'links' ? null : await run(false);
  const head = links ?? direct!;
  process.stdout.write(
    `${JSON.stringify({
      lagP99Ms: head.lagP99Ms,
      lagP999Ms: head.lagP999Ms,
      drcRowsPerSec: head.drcRowsPerSec,
      nativeRowsPerSec: head.nativeRowsPerSec,
      ratio: head.ratio,
      lagP50Ms: head.lagP50Ms,
      via: links ? 'links 30ms RTT' : 'direct',
      rate: RATE,
      seconds: SECONDS,
      warmup: WARMUP,
      ...(links ? { links } : {}),
      ...(direct ? { direct } : {}),
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
