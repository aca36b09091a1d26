/**
 * A DRC lab for integration tests: real MariaDB (and Redis) per eZone on free ports, a topology
 * file pointing at them, DRC's objects installed as root, and replicators/invalidators started as
 * real child processes from the build (`dist/src/drc/main.js`, `dist/src/cache/main.js`).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import mysql, { type Connection, type ConnectionOptions } from 'mysql2/promise';
import { parse, stringify } from 'yaml';
import { digestTable } from '../../harness/checkers/digest.js';
import { currentPosition, waitApplied } from '../../src/drc/index.js';
import { installDrc } from '../../src/drc/install.js';
import { drcPort, tableSpecs } from '../../src/drc/names.js';
import { type GzsProcess, startGzsProcess } from '../../src/gzs/testkit.js';
import { hostFor, type Spawned, terminate, waitGone } from '../../src/launch/host.js';
import { loadTopology, type Topology } from '../../src/topology/index.js';
import { fixturesDir, projectRoot } from '../../src/util/paths.js';
import { tempDir } from './run-dir.js';
import {
  freePort,
  type MariaDBService,
  type Service,
  startMariaDB,
  startRedis,
  writeFreePortTopology,
} from './services.js';

const host = hostFor('local');

/** Build once when the compiled entry points are missing (npm test builds before vitest). */
export async function ensureBuilt(): Promise<void> {
  const root = projectRoot();
  if (
    existsSync(join(root, 'dist', 'src', 'drc', 'main.js')) &&
    existsSync(join(root, 'dist', 'src', 'cache', 'main.js'))
  )
    return;
  await execa('npx', ['tsc', '-p', '.'], { cwd: root });
}

export interface LabZone {
  id: string;
  serverId: number;
  db: MariaDBService;
  redis?: Service;
}

export interface ProcHandle {
  name: string;
  pid: number;
  port: number;
  logFile: string;
  health(): Promise<Record<string, any>>;
  metrics(): Promise<string>;
  kill(): Promise<void>;
  stop(): Promise<void>;
  alive(): Promise<boolean>;
}

export interface DrcLab {
  dir: string;
  topology: Topology;
  topologyFile: string;
  zones: LabZone[];
  zone(id: string): LabZone;
  /** app connection (dateStrings, big numbers as strings, multiple statements) */
  app(zone: string): Promise<Connection>;
  root(zone: string): Promise<Connection>;
  startReplicator(from: string, to: string, extra?: string[]): Promise<ProcHandle>;
  startInvalidator(zone: string): Promise<ProcHandle>;
  /** wait until every replicator in `pairs` has applied what its source had when called */
  drain(pairs: [string, string][], timeoutMs?: number): Promise<void>;
  /** a row-by-row digest of a table (visible columns and drc_origin), and the row count */
  digest(zone: string, table: string): Promise<{ rows: number; sha: string; text: string }>;
  procs: ProcHandle[];
  /** GZS (with `gzs: true`): the replicators' illegal-write audit reads its ownership log */
  gzs?: GzsProcess;
  close(): Promise<void>;
}

async function waitHttp(port: number, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      await r.text();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`nothing answers on 127.0.0.1:${port}/healthz`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function spawnNode(
  name: string,
  script: string,
  args: string[],
  port: number,
  dir: string,
): Promise<ProcHandle> {
  const logFile = join(dir, `${name.replace(/[^A-Za-z0-9_-]/g, '_')}.log`);
  const proc: Spawned = await host.spawnDetached(process.execPath, [script, ...args], {
    logFile,
    env: { EZ_LOG_LEVEL: process.env.EZ_LOG_LEVEL ?? 'info' },
  });
  await waitHttp(port);
  return {
    name,
    pid: proc.pid,
    port,
    logFile,
    health: async () =>
      (await fetch(`http://127.0.0.1:${port}/healthz`)).json() as Promise<Record<string, any>>,
    metrics: async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
    kill: async () => {
      await host.signal(proc.pid, 'SIGKILL');
      await waitGone(host, proc.pid, 5000, proc.startToken);
    },
    stop: async () => {
      await terminate(host, proc.pid, { startToken: proc.startToken, graceMs: 10_000 });
    },
    alive: () => host.isAlive(proc.pid, proc.startToken),
  };
}

export async function startDrcLab(
  opts: { zones?: 2 | 3; redis?: boolean; gzs?: boolean } = {},
): Promise<DrcLab> {
  await ensureBuilt();
  const dir = tempDir('drc');
  const fixture = join(fixturesDir(), 'topologies', opts.zones === 3 ? 'three-zones.yaml' : 'two-zones.yaml');
  const file = await writeFreePortTopology(dir, fixture);
  const planned = loadTopology(file);
  const zones: LabZone[] = [];
  const started: Service[] = [];
  try {
    await Promise.all(
      planned.zones.map(async (z) => {
        const db = await startMariaDB({ serverId: z.serverId });
        started.push(db);
        const redis = opts.redis ? await startRedis() : undefined;
        if (redis) started.push(redis);
        zones.push({ id: z.id, serverId: z.serverId, db, redis });
      }),
    );
  } catch (err) {
    await Promise.all(started.map((s) => s.stop().catch(() => undefined)));
    throw err;
  }
  zones.sort((a, b) => a.serverId - b.serverId);
  // point the topology at the services that run
  const doc = parse(readFileSync(file, 'utf8'));
  for (const z of zones) {
    doc.deployment.zones[z.id].ports.mysql = z.db.port;
    if (z.redis) doc.deployment.zones[z.id].ports.redis = z.redis.port;
  }
  writeFileSync(file, stringify(doc));
  const topology = loadTopology(file);
  const tables = [...tableSpecs(topology).values()];
  for (const z of zones) {
    const c = await mysql.createConnection(z.db.root);
    try {
      await installDrc(c, z.db.database, tables, z.id);
    } finally {
      await c.end();
    }
  }
  const procs: ProcHandle[] = [];
  const conns: Connection[] = [];
  const gzs = opts.gzs
    ? await startGzsProcess({
        store: `file:${join(dir, 'gzs', 'table.json')}`,
        logFile: join(dir, 'gzs.log'),
        topology: file,
      })
    : undefined;
  const zone = (id: string): LabZone => {
    const z = zones.find((x) => x.id === id);
    if (!z) throw new Error(`no eZone ${id}`);
    return z;
  };
  const connect = async (id: string, role: 'app' | 'root'): Promise<Connection> => {
    const c = await mysql.createConnection({
      ...(role === 'app' ? zone(id).db.app : zone(id).db.root),
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      multipleStatements: true,
    });
    conns.push(c);
    return c;
  };
  const lab: DrcLab = {
    dir,
    topology,
    topologyFile: file,
    zones,
    zone,
    procs,
    app: (id) => connect(id, 'app'),
    root: (id) => connect(id, 'root'),
    async startReplicator(from, to, extra = []) {
      const port = drcPort(topology, from, to);
      const h = await spawnNode(
        `drc-${from}-to-${to}`,
        join(projectRoot(), 'dist', 'src', 'drc', 'main.js'),
        [
          '--topology',
          file,
          '--from',
          from,
          '--to',
          to,
          '--port',
          String(port),
          ...(gzs ? ['--gzs', gzs.url] : []),
          ...extra,
        ],
        port,
        dir,
      );
      procs.push(h);
      return h;
    },
    async startInvalidator(id) {
      const port = topology.deployment.zones[id].ports.invalidator;
      const h = await spawnNode(
        `inv-${id}`,
        join(projectRoot(), 'dist', 'src', 'cache', 'main.js'),
        ['--topology', file, '--zone', id, '--port', String(port)],
        port,
        dir,
      );
      procs.push(h);
      return h;
    },
    drain: (pairs, timeoutMs) =>
      drainDirections(
        pairs,
        (z) => zone(z).db.root,
        (z) => zone(z).serverId,
        timeoutMs,
      ),
    digest: (id, table) => digestTable(zone(id).db.root, topology, table),
    gzs,
    async close() {
      await Promise.all(procs.map((p) => p.stop().catch(() => undefined)));
      await gzs?.stop().catch(() => undefined);
      await Promise.all(conns.map((c) => c.end().catch(() => c.destroy())));
      await Promise.all(
        zones.flatMap((z) => [z.db.stop().catch(() => undefined), z.redis?.stop().catch(() => undefined)]),
      );
    },
  };
  return lab;
}

/**
 * Wait until every direction in `pairs` has applied what its source had when this was called
 * (src/drc's waitApplied: the target's drc_checkpoint covers the source's own GTID domain).
 */
export async function drainDirections(
  pairs: [string, string][],
  rootOf: (zone: string) => ConnectionOptions,
  serverIdOf: (zone: string) => number,
  timeoutMs = 60_000,
): Promise<void> {
  const wanted = await Promise.all(
    pairs.map(async ([from, to]) => {
      const c = await mysql.createConnection(rootOf(from));
      try {
        return { from, to, point: await currentPosition(c, serverIdOf(from)) };
      } finally {
        await c.end();
      }
    }),
  );
  const deadline = Date.now() + timeoutMs;
  for (const w of wanted) {
    await waitApplied({
      target: rootOf(w.to),
      from: w.from,
      to: w.to,
      fromServerId: serverIdOf(w.from),
      seq: w.point.seq,
      timeoutMs: Math.max(1, deadline - Date.now()),
      pollMs: 50,
    });
  }
}

/** A row-by-row digest of a table (visible columns and drc_origin, ordered by primary key). */
export { digestTable };

/** Run `fn`, retrying InnoDB deadlocks (1213) as any application must. */
export async function retryDeadlock<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if ((err as { errno?: number }).errno !== 1213 || i > 20) throw err;
    }
  }
}

/** A quantile of a list of numbers (nearest rank). */
export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

export { freePort };
