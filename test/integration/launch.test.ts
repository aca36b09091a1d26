// `ezctl up/status/down` on real processes: readiness, pids, restarts, data reuse, failures.
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import mysql, { type Connection, type ConnectionOptions, type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterStatus, down, type ProgressEvent, status, up } from '../../src/launch/cluster.js';
import { mysqlAccount } from '../../src/shared/mysql-accounts.js';
import { loadTopology } from '../../src/topology/index.js';
import { projectRoot } from '../../src/util/paths.js';
import { tempDir } from '../helpers/run-dir.js';
import { startZoneCluster, writeFreePortTopology, type ZoneCluster } from '../helpers/services.js';

const ORDER_ID = '7290412234567680001';

/** kill(pid, 0) fails with ESRCH once the pid is gone: a check independent of the launcher. */
const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Processes started by the CLI are orphans once it exits: after they exit, their zombie entry
 * stays until init reaps it (~1.3 s measured here), and kill(pid, 0) still succeeds on a zombie.
 */
async function pidGone(pid: number, withinMs = 5000): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (pidAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

const byName = (s: ClusterStatus, name: string) => {
  const p = s.processes.find((x) => x.name === name);
  if (!p) throw new Error(`${name} not in status: ${s.processes.map((x) => x.name).join(', ')}`);
  return p;
};

async function withConn<T>(opts: ConnectionOptions, fn: (c: Connection) => Promise<T>): Promise<T> {
  const c = await mysql.createConnection(opts);
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** The infrastructure alone: most tests here are about the launcher, not the parts on top. */
const INFRA = ['mariadb', 'redis'];
describe('ezctl up/status/down on two-zones (free ports)', () => {
  let cluster: ZoneCluster;
  const allPids = new Set<number>();
  const remember = (s: ClusterStatus): void => {
    for (const p of s.processes) allPids.add(p.pid);
  };

  // mysql2 options for an eZone's MariaDB: root over its socket, the others over TCP
  const conn = (zone: string, role: 'root' | 'app' | 'reader' | 'applier'): ConnectionOptions => {
    const p = byName(cluster.started, `mariadb@${zone}`);
    const a = mysqlAccount(role);
    const where = role === 'root' ? { socketPath: p.endpoints.socket } : { host: '127.0.0.1', port: p.port };
    return { ...where, user: a.user, password: a.password, database: cluster.topology.database };
  };

  beforeAll(async () => {
    cluster = await startZoneCluster(undefined, { only: INFRA });
    remember(cluster.started);
  });

  afterAll(async () => {
    await cluster?.down({ purge: true });
  });

  it('starts one MariaDB and one Redis per eZone, all alive and ready', async () => {
    const s = await cluster.status();
    expect(s.healthy).toBe(true);
    const zones = cluster.topology.zones.map((z) => z.id);
    expect(zones).toHaveLength(2);
    for (const kind of ['mariadb', 'redis']) {
      const ps = s.processes.filter((p) => p.kind === kind);
      expect(ps.map((p) => p.zone).sort()).toEqual([...zones].sort());
      for (const p of ps) {
        expect(p.alive && p.ready).toBe(true);
        expect(pidAlive(p.pid)).toBe(true);
        expect(p.port).toBe(
          cluster.topology.deployment.zones[p.zone!].ports[kind === 'mariadb' ? 'mysql' : 'redis'],
        );
        expect(p.dataDir).toBe(join(cluster.stateDir, cluster.topology.name, p.zone!, kind));
      }
    }
  });

  it('gives each eZone its own server id and GTID domain, with a ROW/FULL binlog', async () => {
    const seen: number[] = [];
    for (const z of cluster.topology.zones) {
      const [rows] = await withConn(conn(z.id, 'root'), (c) =>
        c.query<RowDataPacket[]>(
          'SELECT @@server_id AS sid, @@gtid_domain_id AS did, @@log_bin AS lb, @@binlog_format AS fmt, ' +
            '@@binlog_row_image AS img, @@binlog_row_metadata AS meta',
        ),
      );
      expect(rows[0]).toMatchObject({
        sid: z.serverId,
        did: z.serverId,
        lb: 1,
        fmt: 'ROW',
        img: 'FULL',
        meta: 'FULL',
      });
      seen.push(rows[0].sid);
    }
    expect(new Set(seen).size).toBe(2);
  });

  it("writes a row into one eZone's binlog as ROW events (and keeps bootstrap out of it)", async () => {
    const zone = cluster.topology.zones[0];
    await withConn(conn(zone.id, 'app'), (c) =>
      c.query(
        'INSERT INTO orders (id, shard_id, user_id, merchant_id, state, amount_cents, created_at, updated_at) ' +
          "VALUES (?, 0, 'u-1', 'm-88123', 'placed', 2500, NOW(6), NOW(6))",
        [ORDER_ID],
      ),
    );
    const events = await withConn(conn(zone.id, 'root'), async (c) => {
      const [files] = await c.query<RowDataPacket[]>('SHOW BINARY LOGS');
      const all: RowDataPacket[] = [];
      for (const f of files) {
        const [ev] = await c.query<RowDataPacket[]>(`SHOW BINLOG EVENTS IN '${f.Log_name}'`);
        all.push(...ev);
      }
      return all;
    });
    const writes = events.filter((e) => /^Write_rows/.test(e.Event_type));
    expect(writes).toHaveLength(1);
    expect(writes[0].Server_id).toBe(zone.serverId);
    expect(events.some((e) => e.Event_type === 'Table_map' && /\(ezshop\.orders\)/.test(e.Info))).toBe(true);
    // GTID <domain>-<server>-<seq>: both the eZone's server id
    const gtids = events.filter((e) => e.Event_type === 'Gtid').map((e) => String(e.Info));
    expect(gtids).toEqual([`BEGIN GTID ${zone.serverId}-${zone.serverId}-1`]);
    // schema, users and grants were applied with sql_log_bin=0: nothing for DRC to replicate
    expect(
      events.filter((e) => /\bCREATE (TABLE|USER|DATABASE)|\bGRANT\b|ALTER USER/i.test(String(e.Info))),
    ).toEqual([]);
    // the other eZone saw nothing (no replication yet)
    const [other] = await withConn(conn(cluster.topology.zones[1].id, 'app'), (c) =>
      c.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM orders'),
    );
    expect(Number(other[0].n)).toBe(0);
  });

  it('creates the app, DRC reader and DRC applier accounts with their grants; root only on the socket', async () => {
    const zone = cluster.topology.zones[0].id;
    const other = cluster.topology.zones[1].serverId;
    // app: DML on the database, nothing else
    await withConn(conn(zone, 'app'), async (c) => {
      const [r] = await c.query<RowDataPacket[]>('SELECT state FROM orders WHERE id = ?', [ORDER_ID]);
      expect(r[0].state).toBe('placed');
      await expect(c.query('CREATE TABLE nope (id INT PRIMARY KEY)')).rejects.toThrow(/denied/i);
      await expect(c.query('SHOW BINLOG EVENTS')).rejects.toThrow(/denied/i);
    });
    // reader: binlog + SELECT, no writes
    await withConn(conn(zone, 'reader'), async (c) => {
      const [st] = await c.query<RowDataPacket[]>('SHOW MASTER STATUS');
      expect(st[0].File).toMatch(/^mysql-bin\.\d+$/);
      const [r] = await c.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM orders');
      expect(Number(r[0].n)).toBe(1);
      await expect(c.query("UPDATE orders SET state = 'x'")).rejects.toThrow(/denied/i);
    });
    // applier: loop-prevention session variables, sql_log_bin, DML and DDL on the database
    await withConn(conn(zone, 'applier'), async (c) => {
      await c.query('SET SESSION sql_log_bin = 0');
      await c.query('SET SESSION sql_log_bin = 1');
      await c.query(`SET SESSION server_id = ${other}, SESSION gtid_domain_id = ${other}`);
      const [r] = await c.query<RowDataPacket[]>('SELECT @@session.server_id AS sid');
      expect(r[0].sid).toBe(other);
      await c.query('CREATE TABLE drc_probe (id INT PRIMARY KEY)');
      await c.query('INSERT INTO drc_probe VALUES (1)');
      await c.query('DROP TABLE drc_probe');
      await expect(c.query('CREATE DATABASE elsewhere')).rejects.toThrow(/denied/i);
    });
    // no root over TCP (install-db's root@127.0.0.1 is dropped)
    const p = byName(cluster.started, `mariadb@${zone}`);
    await expect(
      mysql.createConnection({ host: '127.0.0.1', port: p.port, user: 'root', password: '' }),
    ).rejects.toThrow(/denied/i);
  });

  it('a second up is a no-op: same pids, every process kept', async () => {
    const events: ProgressEvent[] = [];
    const s = await cluster.up({ only: INFRA }, (e) => events.push(e));
    expect(events.map((e) => e.type)).toEqual(['kept', 'kept', 'kept', 'kept']);
    expect(s.processes.map((p) => `${p.name}:${p.pid}`).sort()).toEqual(
      cluster.started.processes.map((p) => `${p.name}:${p.pid}`).sort(),
    );
  });

  it('reports a kill -9 mariadbd as not alive, and up restarts it on its data', async () => {
    const zone = cluster.topology.zones[0].id;
    const victim = byName(await cluster.status(), `mariadb@${zone}`);
    process.kill(victim.pid, 'SIGKILL');
    for (let i = 0; i < 100 && pidAlive(victim.pid); i++) await new Promise((r) => setTimeout(r, 20));
    const s = await cluster.status();
    expect(byName(s, `mariadb@${zone}`)).toMatchObject({ alive: false, ready: false, uptimeSec: null });
    expect(s.healthy).toBe(false);
    expect(byName(s, `redis@${zone}`).alive).toBe(true);

    const events: ProgressEvent[] = [];
    const after = await cluster.up({ only: INFRA }, (e) => events.push(e));
    remember(after);
    expect(events.filter((e) => e.type !== 'kept').map((e) => `${e.type} ${e.name}`)).toEqual([
      `starting mariadb@${zone}`,
      `ready mariadb@${zone}`,
    ]);
    expect(events.find((e) => e.type === 'starting')?.message).toMatch(/not running/);
    const restarted = byName(after, `mariadb@${zone}`);
    expect(restarted.pid).not.toBe(victim.pid);
    expect(after.healthy).toBe(true);
    const [r] = await withConn(conn(zone, 'app'), (c) =>
      c.query<RowDataPacket[]>('SELECT state FROM orders WHERE id = ?', [ORDER_ID]),
    );
    expect(r[0].state).toBe('placed'); // crash recovery kept the committed row
  });

  it('down stops every started pid; the next up reuses the data', async () => {
    const before = await cluster.status();
    remember(before);
    const result = await cluster.down();
    expect(result.stopped.map((x) => x.name).sort()).toEqual(before.processes.map((p) => p.name).sort());
    for (const pid of allPids) expect(pidAlive(pid), `pid ${pid}`).toBe(false);
    expect((await cluster.status()).processes).toEqual([]);

    const again = await cluster.up({ only: INFRA });
    remember(again);
    expect(again.healthy).toBe(true);
    const [r] = await withConn(conn(cluster.topology.zones[0].id, 'app'), (c) =>
      c.query<RowDataPacket[]>('SELECT state, amount_cents FROM orders WHERE id = ?', [ORDER_ID]),
    );
    expect(r[0]).toMatchObject({ state: 'placed', amount_cents: 2500 });
  });

  it('down --purge stops everything and deletes the data directory', async () => {
    const dir = join(cluster.stateDir, cluster.topology.name);
    expect(existsSync(join(dir, cluster.topology.zones[0].id, 'mariadb', 'data', 'mysql'))).toBe(true);
    const result = await cluster.down({ purge: true });
    expect(result.purged).toBe(true);
    for (const pid of allPids) expect(pidAlive(pid), `pid ${pid}`).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });
});

describe('ezctl CLI end to end', () => {
  const dir = tempDir('cli');
  const stateDir = join(dir, 'state');
  let topologyFile: string;
  const ezctl = (...args: string[]) =>
    execa(
      'node',
      [join(projectRoot(), 'bin', 'run.js'), ...args, '--topology', topologyFile, '--state-dir', stateDir],
      {
        reject: false,
      },
    );

  beforeAll(async () => {
    topologyFile = await writeFreePortTopology(dir);
  });

  afterAll(async () => {
    await ezctl('down', '--purge');
  });

  it('up --json (the whole cluster), status --json, down', async () => {
    const up = await ezctl('up', '--json');
    expect(up.exitCode, up.stderr).toBe(0);
    const started = JSON.parse(up.stdout) as ClusterStatus;
    expect(started.healthy).toBe(true);
    const names = started.processes.map((p) => p.name);
    // the infrastructure: 2 MariaDB and 2 Redis, ready
    for (const n of ['mariadb@ez-bj', 'mariadb@ez-sh', 'redis@ez-bj', 'redis@ez-sh'])
      expect(names).toContain(n);
    // and the parts on top of it: GZS, one replicator per direction, per-eZone services, one router
    for (const kind of ['gzs', 'drc', 'invalidator', 'orders', 'soa', 'router']) {
      expect(
        started.processes.some((p) => p.kind === kind),
        kind,
      ).toBe(true);
    }
    expect(started.processes.filter((p) => p.kind === 'drc')).toHaveLength(2);
    expect(up.stderr).toMatch(/ready\s+mariadb@ez-bj/); // progress goes to stderr with --json

    const st = await ezctl('status', '--json');
    expect(st.exitCode).toBe(0);
    const status = JSON.parse(st.stdout) as ClusterStatus;
    expect(status.processes.map((p) => [p.name, p.pid, p.alive, p.ready])).toEqual(
      started.processes.map((p) => [p.name, p.pid, true, true]),
    );

    const down = await ezctl('down');
    expect(down.exitCode, down.stderr).toBe(0);
    expect(down.stdout).toMatch(new RegExp(`stopped ${started.processes.length} processes`));
    for (const p of started.processes) expect(await pidGone(p.pid), p.name).toBe(true);

    // stopped: not running any more, which status says (exit 1), not "healthy"
    const after = await ezctl('status');
    expect(after.exitCode).toBe(1);
    expect(after.stdout).toMatch(/is not running: no processes recorded/);
  });
});

describe('up failures', () => {
  it('refuses a port held by another process, starts the rest, and reports a crash with its log tail', async () => {
    const dir = tempDir('fail');
    const topology = loadTopology(await writeFreePortTopology(dir));
    const stateDir = join(dir, 'state');
    const [bj, sh] = topology.zones.map((z) => z.id);
    // someone else listens on ez-bj's Redis port
    const squatter = createServer().listen(topology.deployment.zones[bj].ports.redis, '127.0.0.1');
    await new Promise((r) => squatter.once('listening', r));
    // ez-sh's MariaDB has a datadir that looks initialized but is empty: mariadbd exits at once
    mkdirSync(join(stateDir, topology.name, sh, 'mariadb', 'data', 'mysql'), { recursive: true });
    const events: ProgressEvent[] = [];
    try {
      await expect(up(topology, { stateDir, only: INFRA }, (e) => events.push(e))).rejects.toMatchObject({
        code: 'EZ_UP_FAILED', // two different causes
        message: expect.stringContaining(
          `2 processes failed to start: redis@${bj} (EZ_PORT_IN_USE), mariadb@${sh} (EZ_START_FAILED)`,
        ),
      });
      const failed = events.filter((e) => e.type === 'failed');
      expect(failed.map((e) => e.name).sort()).toEqual([`mariadb@${sh}`, `redis@${bj}`].sort());
      const redisFail = failed.find((e) => e.kind === 'redis')!;
      expect(redisFail.message).toMatch(/port \d+ is already in use by another process/);
      const dbFail = failed.find((e) => e.kind === 'mariadb')!;
      expect(dbFail.message).toMatch(/exited during start/);
      expect(dbFail.logTail).toMatch(/\[ERROR\]/); // MariaDB's own words
      // the others run and are recorded; the failed ones are not
      const s = await status(topology, { stateDir });
      expect(s.processes.map((p) => p.name).sort()).toEqual([`mariadb@${bj}`, `redis@${sh}`].sort());
      expect(s.healthy).toBe(true);
    } finally {
      squatter.close();
      await down(topology, { stateDir, purge: true });
    }
  });

  it('fails with EZ_PORT_IN_USE, as documented, when a port taken by another process is the only cause', async () => {
    const dir = tempDir('port');
    const topology = loadTopology(await writeFreePortTopology(dir));
    const stateDir = join(dir, 'state');
    const bj = topology.zones[0].id;
    const squatter = createServer().listen(topology.deployment.zones[bj].ports.redis, '127.0.0.1');
    await new Promise((r) => squatter.once('listening', r));
    try {
      await expect(up(topology, { stateDir, only: ['redis'] })).rejects.toMatchObject({
        code: 'EZ_PORT_IN_USE',
        message: expect.stringContaining(`1 process failed to start: redis@${bj} (EZ_PORT_IN_USE)`),
      });
    } finally {
      squatter.close();
      await down(topology, { stateDir, purge: true });
    }
  });
});
