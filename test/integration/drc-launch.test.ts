/**
 * `ezctl up` on three eZones starts 6 replicators and 3 invalidators; concurrent conflicting
 * writes in all three converge row by row; `ezctl drc status|conflicts`, `ezctl audit
 * illegal-writes` report it; a DDL stops its directions with a clear error until `drc resume`.
 */
import { join } from 'node:path';
import { execa } from 'execa';
import mysql, { type Connection, type ConnectionOptions } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directions } from '../../src/drc/names.js';
import { mysqlAccount } from '../../src/shared/mysql-accounts.js';
import { fixturesDir, projectRoot } from '../../src/util/paths.js';
import { digestTable, drainDirections, ensureBuilt, retryDeadlock } from '../helpers/drc.js';
import { startZoneCluster, type ZoneCluster } from '../helpers/services.js';

describe('DRC started by ezctl up (three eZones)', () => {
  let cluster: ZoneCluster;
  const conns: Connection[] = [];
  const root = (zone: string): ConnectionOptions => {
    const p = cluster.started.processes.find((x) => x.name === `mariadb@${zone}`)!;
    return {
      socketPath: p.endpoints.socket,
      user: 'root',
      password: mysqlAccount('root').password,
      database: cluster.topology.database,
    };
  };
  const app = async (zone: string): Promise<Connection> => {
    const a = mysqlAccount('app');
    const c = await mysql.createConnection({
      host: '127.0.0.1',
      port: cluster.topology.deployment.zones[zone].ports.mysql,
      user: a.user,
      password: a.password,
      database: cluster.topology.database,
      dateStrings: true,
      bigNumberStrings: true,
      supportBigNumbers: true,
    });
    conns.push(c);
    return c;
  };
  const ezctl = (...args: string[]) =>
    execa(
      process.execPath,
      [join(projectRoot(), 'bin', 'run.js'), ...args, '--topology', cluster.topologyFile],
      {
        reject: false,
      },
    );
  const allPairs = (): [string, string][] => directions(cluster.topology).map((d) => [d.from, d.to]);
  const sid = (zone: string) => cluster.topology.zones.find((z) => z.id === zone)!.serverId;

  beforeAll(async () => {
    await ensureBuilt();
    cluster = await startZoneCluster(join(fixturesDir(), 'topologies', 'three-zones.yaml'));
  });

  afterAll(async () => {
    for (const c of conns) await c.end().catch(() => undefined);
    await cluster?.down({ purge: true });
  });

  it('starts a replicator per ordered eZone pair (6) and an invalidator per eZone (3)', async () => {
    const s = await cluster.status();
    expect(s.healthy).toBe(true);
    const drc = s.processes.filter((p) => p.kind === 'drc').map((p) => p.name);
    expect(drc.sort()).toEqual(
      [
        'drc@ez-sh<-ez-bj',
        'drc@ez-gz<-ez-bj',
        'drc@ez-bj<-ez-sh',
        'drc@ez-gz<-ez-sh',
        'drc@ez-bj<-ez-gz',
        'drc@ez-sh<-ez-gz',
      ].sort(),
    );
    expect(
      s.processes
        .filter((p) => p.kind === 'invalidator')
        .map((p) => p.zone)
        .sort(),
    ).toEqual(['ez-bj', 'ez-gz', 'ez-sh']);
  });

  it('converges concurrent writes to the same keys in three eZones (equal updated_at included)', async () => {
    const zones = cluster.topology.zones.map((z) => z.id);
    const base = Date.now();
    const at = (k: number) => new Date(base + k).toISOString().replace('T', ' ').replace('Z', '000');
    const worker = async (zone: string, seed: number) => {
      const c = await app(zone);
      for (let i = 0; i < 120; i++) {
        const id = 500 + ((i * 5 + seed * 3) % 30);
        const r = (i + seed) % 15;
        await retryDeadlock(async () => {
          if (r === 0) await c.query('DELETE FROM orders WHERE id = ?', [id]);
          else
            await c.query(
              `INSERT INTO orders (id, shard_id, user_id, merchant_id, state, amount_cents, created_at, updated_at)
               VALUES (?, ?, 'u', 'm', ?, 1, ?, ?) ON DUPLICATE KEY UPDATE version = version + 1, state = VALUES(state), updated_at = VALUES(updated_at)`,
              [id, id % 42, `${zone}-${i}`, at(0), at(i % 6)],
            );
        });
      }
    };
    await Promise.all(zones.flatMap((z, i) => [worker(z, i * 2), worker(z, i * 2 + 1)]));
    await drainDirections(allPairs(), root, sid);
    const digests = await Promise.all(zones.map((z) => digestTable(root(z), cluster.topology, 'orders')));
    expect(digests[0].rows).toBeGreaterThan(0);
    for (const d of digests.slice(1)) {
      if (d.sha !== digests[0].sha) expect(d.text).toBe(digests[0].text);
      expect(d.sha).toBe(digests[0].sha);
    }
  });

  it('reports per direction in ezctl drc status, conflicts and audit illegal-writes (--json)', async () => {
    const st = await ezctl('drc', 'status', '--json');
    expect(st.exitCode, st.stderr).toBe(0);
    const status = JSON.parse(st.stdout);
    expect(status.healthy).toBe(true);
    expect(status.directions).toHaveLength(6);
    for (const d of status.directions) {
      expect(['running', 'catching-up']).toContain(d.state);
      expect(d.lastGtid).toMatch(/^\d+-\d+-\d+$/);
      // heartbeats arrive every 100 ms per direction: lag was measured, and through the 30 ms
      // links `ezctl up` wires (15 ms each way) it can never be below the one-way latency
      expect(d.lag.samples ?? 0).toBeGreaterThan(0);
      expect(d.lag.p50Ms).toBeGreaterThanOrEqual(15);
      expect(d.lag.p99Ms).toBeLessThan(5000);
    }
    expect(
      status.directions.reduce((n: number, d: { conflicts: number }) => n + d.conflicts, 0),
    ).toBeGreaterThan(0);

    const cf = await ezctl('drc', 'conflicts', '--limit', '5', '--json');
    expect(cf.exitCode, cf.stderr).toBe(0);
    const conflicts = JSON.parse(cf.stdout).conflicts;
    expect(conflicts).toHaveLength(5);
    expect(conflicts[0]).toMatchObject({
      table: 'orders',
      winner: expect.stringMatching(/incoming|current/),
    });
    expect(conflicts[0].incomingVersion).toMatch(/@\d+$/);

    // the workload wrote every key in every eZone: most of those writes were in the wrong eZone
    const il = await ezctl('audit', 'illegal-writes', '--limit', '10', '--json');
    expect(il.exitCode).toBe(1);
    const illegal = JSON.parse(il.stdout).illegalWrites;
    expect(illegal.length).toBeGreaterThan(0);
    expect(illegal[0].owner).not.toBe(illegal[0].origin);
    expect(illegal[0].seenIn.length).toBeGreaterThanOrEqual(1);

    const text = await ezctl('drc', 'status');
    expect(text.stdout).toMatch(/ez-bj -> ez-sh\s+(running|catching-up)/);
  });

  it('stops a direction at a DDL with the statement and GTID; drc resume steps over it', async () => {
    const bj = await mysql.createConnection(root('ez-bj'));
    await bj.query('ALTER TABLE orders ADD COLUMN note VARCHAR(32) NULL');
    await bj.end();
    const stopped = async () => {
      for (let i = 0; i < 100; i++) {
        const s = JSON.parse((await ezctl('drc', 'status', '--from', 'ez-bj', '--json')).stdout);
        if (s.directions.every((d: { state: string }) => d.state === 'stopped')) return s.directions;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('directions from ez-bj did not stop');
    };
    const dirs = await stopped();
    expect(dirs[0].lastError).toMatch(
      /DDL on replicated table\(s\) orders at ez-bj GTID 1-1-\d+: "ALTER TABLE orders ADD COLUMN note/,
    );
    const st = await ezctl('drc', 'status');
    expect(st.exitCode).toBe(1);

    // the operator applies the change in the other eZones, out of their binlogs, and resumes
    for (const z of ['ez-sh', 'ez-gz']) {
      const c = await mysql.createConnection(root(z));
      await c.query('SET SESSION sql_log_bin = 0');
      await c.query('ALTER TABLE orders ADD COLUMN note VARCHAR(32) NULL');
      await c.end();
      const r = await ezctl('drc', 'resume', '--from', 'ez-bj', '--to', z, '--json');
      expect(r.exitCode, r.stdout).toBe(0);
      expect(JSON.parse(r.stdout).skipped).toMatch(/^1-1-\d+$/);
    }
    const again = await ezctl('drc', 'resume', '--from', 'ez-bj', '--to', 'ez-sh', '--json');
    expect(again.exitCode).toBe(1);
    expect(JSON.parse(again.stdout).error.code).toBe('EZ_NOT_STOPPED');

    const c = await app('ez-bj');
    await c.query(
      `INSERT INTO orders (id, shard_id, user_id, merchant_id, state, amount_cents, created_at, updated_at, note)
       VALUES (9001, 0, 'u', 'm', 'placed', 1, NOW(6), NOW(6), 'after-ddl')`,
    );
    await drainDirections(allPairs(), root, sid);
    for (const z of ['ez-sh', 'ez-gz']) {
      const [rows] = await (await app(z)).query('SELECT note FROM orders WHERE id = 9001');
      expect(rows).toEqual([{ note: 'after-ddl' }]);
    }
  });
});
