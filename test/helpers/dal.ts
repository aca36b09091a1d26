// A two-eZone cluster started by the real `ezctl up` (DALs included) for the DAL's tests, with a
// local table (audit_log) added to the topology, and the ways in: through a DAL, straight to
// MariaDB, as root; the binlog's statements; waiting for a DAL to hold an epoch.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { execa } from 'execa';
import mysql, { type Connection, type ConnectionOptions } from 'mysql2/promise';
import { parse, stringify } from 'yaml';
import { GzsApi } from '../../src/gzs/index.js';
import { mysqlAccount } from '../../src/shared/mysql-accounts.js';
import { controlGzsUrl } from '../../src/topology/index.js';
import { fixturesDir, projectRoot } from '../../src/util/paths.js';
import { tempDir } from './run-dir.js';
import { startZoneCluster, type ZoneCluster } from './zone-cluster.js';

/** The two-zones topology plus `audit_log` (kind local) in its schema and tables. */
export function writeDalTopology(dir: string): string {
  const src = join(fixturesDir(), 'topologies', 'two-zones.yaml');
  const doc = parse(readFileSync(src, 'utf8'));
  doc.fences = resolve(dirname(src), doc.fences);
  const schema = join(dir, 'schema.sql');
  writeFileSync(
    schema,
    `${readFileSync(join(fixturesDir(), 'sql', 'schema.sql'), 'utf8')}
-- local: each eZone writes its own rows; not replicated, not checked by the DAL
CREATE TABLE IF NOT EXISTS audit_log (
  id        BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  order_id  BIGINT UNSIGNED NULL,
  msg       VARCHAR(255) NOT NULL,
  at        DATETIME(6) NOT NULL DEFAULT NOW(6),
  PRIMARY KEY (id)
) ENGINE=InnoDB;
`,
  );
  doc.schema = schema;
  doc.tables.push({ name: 'audit_log', kind: 'local' });
  const out = join(dir, 'dal-topology.yaml');
  writeFileSync(out, stringify(doc));
  return out;
}

export interface DalCluster extends ZoneCluster {
  gzs: GzsApi;
  dalPort(zone: string): number;
  opsPort(zone: string): number;
  /** the app account through the eZone's DAL (or straight to its MariaDB) */
  connect(zone: string, o?: { direct?: boolean } & Partial<ConnectionOptions>): Promise<Connection>;
  /** root on the eZone's MariaDB socket */
  root(zone: string): Promise<Connection>;
  rootOptions(zone: string): ConnectionOptions;
  serverId(zone: string): number;
  /** the order service of the eZone (it goes through the DAL) */
  ordersUrl(zone: string): string;
  health(zone: string): Promise<Record<string, any>>;
  /** resolves once the eZone's DAL holds (and has acknowledgeable) at least `epoch` */
  waitDalEpoch(zone: string, epoch: number, ms?: number): Promise<void>;
  /** the binlog's position now: pass it to `statementsSince` */
  binlogPosition(zone: string): Promise<{ file: string; pos: number }>;
  /** the statements (Annotate_rows and Query events) written to the binlog after `from` */
  statementsSince(zone: string, from: { file: string; pos: number }): Promise<string[]>;
  ezctl(...args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  /** `ezctl` with extra environment (e.g. EZ_FAILPOINTS); `signal` is set when it died by one */
  ezctlWith(
    o: { env?: Record<string, string>; timeoutMs?: number },
    ...args: string[]
  ): Promise<{
    exitCode: number | null;
    signal: string | null;
    timedOut: boolean;
    stdout: string;
    stderr: string;
  }>;
  close(): Promise<void>;
}

export async function startDalCluster(opts: { links?: boolean } = {}): Promise<DalCluster> {
  const dir = tempDir('dal');
  const cluster = await startZoneCluster(writeDalTopology(dir), { links: opts.links });
  const t = cluster.topology;
  const conns: Connection[] = [];
  const socketOf = (zone: string): string =>
    cluster.started.processes.find((p) => p.name === `mariadb@${zone}`)!.endpoints.socket;
  const app = mysqlAccount('app');
  const dc: DalCluster = {
    ...cluster,
    gzs: new GzsApi(controlGzsUrl(t)),
    dalPort: (zone) => t.deployment.zones[zone].ports.dal,
    opsPort: (zone) => t.deployment.zones[zone].ports.dalHttp,
    async connect(zone, o = {}) {
      const { direct, ...rest } = o;
      const c = await mysql.createConnection({
        host: '127.0.0.1',
        port: direct ? t.deployment.zones[zone].ports.mysql : t.deployment.zones[zone].ports.dal,
        user: app.user,
        password: app.password,
        database: t.database,
        supportBigNumbers: true,
        bigNumberStrings: true,
        dateStrings: true,
        ...rest,
      });
      c.on('error', () => undefined);
      conns.push(c);
      return c;
    },
    rootOptions: (zone) => ({
      socketPath: socketOf(zone),
      user: 'root',
      password: mysqlAccount('root').password,
      database: t.database,
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
    }),
    async root(zone) {
      const c = await mysql.createConnection(dc.rootOptions(zone));
      conns.push(c);
      return c;
    },
    serverId: (zone) => t.zones.find((z) => z.id === zone)!.serverId,
    ordersUrl: (zone) => `http://127.0.0.1:${t.deployment.zones[zone].ports.orders}`,
    async health(zone) {
      const res = await fetch(`http://127.0.0.1:${dc.opsPort(zone)}/healthz`);
      return (await res.json()) as Record<string, any>;
    },
    async waitDalEpoch(zone, epoch, ms = 10_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const h = await dc.health(zone);
        if (h.epoch >= epoch) return;
        if (Date.now() > deadline)
          throw new Error(`DAL of ${zone} still at epoch ${h.epoch}, expected ${epoch}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async binlogPosition(zone) {
      const c = await dc.root(zone);
      const [rows] = await c.query('SHOW MASTER STATUS');
      const r = (rows as { File: string; Position: string | number }[])[0];
      return { file: r.File, pos: Number(r.Position) };
    },
    async statementsSince(zone, from) {
      const c = await dc.root(zone);
      const [logs] = await c.query('SHOW BINARY LOGS');
      const files = (logs as { Log_name: string }[]).map((l) => l.Log_name).filter((f) => f >= from.file);
      const out: string[] = [];
      for (const f of files) {
        const [events] = await c.query(
          f === from.file ? `SHOW BINLOG EVENTS IN ? FROM ${from.pos}` : 'SHOW BINLOG EVENTS IN ?',
          [f],
        );
        for (const e of events as { Event_type: string; Info: string }[])
          if (e.Event_type === 'Annotate_rows' || e.Event_type === 'Query') out.push(e.Info);
      }
      return out;
    },
    async ezctl(...args) {
      const r = await execa(
        process.execPath,
        [join(projectRoot(), 'bin', 'run.js'), ...args, '--topology', cluster.topologyFile],
        {
          reject: false,
        },
      );
      return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr) };
    },
    async ezctlWith(o, ...args) {
      const r = await execa(
        process.execPath,
        [join(projectRoot(), 'bin', 'run.js'), ...args, '--topology', cluster.topologyFile],
        { reject: false, env: o.env, timeout: o.timeoutMs ?? 60_000 },
      );
      return {
        exitCode: r.exitCode ?? null,
        signal: r.signal ?? null,
        timedOut: r.timedOut === true,
        stdout: String(r.stdout),
        stderr: String(r.stderr),
      };
    },
    async close() {
      for (const c of conns) await c.end().catch(() => c.destroy());
      await cluster.down({ purge: true });
    },
  };
  return dc;
}

/** A shard each eZone owns at epoch 1, and one the other owns. */
export function shardsOf(cluster: DalCluster, zone: string): { mine: number[]; theirs: number[] } {
  const mine: number[] = [];
  const theirs: number[] = [];
  for (const [shard, z] of cluster.topology.shards) (z === zone ? mine : theirs).push(shard);
  return { mine, theirs };
}

/** Run the mariadb CLI with `script` on stdin (batch mode, --force: go on after an error). */
export async function mariadbCli(
  port: number,
  database: string,
  script: string,
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const a = mysqlAccount('app');
  const r = await execa(
    'mariadb',
    ['--no-defaults', '-h127.0.0.1', `-P${port}`, `-u${a.user}`, '--batch', '--force', database],
    { input: script, env: { MYSQL_PWD: a.password }, reject: false },
  );
  return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
