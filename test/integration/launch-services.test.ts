// The test helpers' real MariaDB, Redis and ZooKeeper: logins, restarts, kills.
import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import zookeeperClient from 'node-zookeeper-client';
import { afterAll, describe, expect, it } from 'vitest';
import { hostFor } from '../../src/launch/host.js';
import { reapRecordedPids } from '../global-setup.js';
import { tempDir } from '../helpers/run-dir.js';
import {
  type MariaDBService,
  type Service,
  startMariaDB,
  startRedis,
  startZoneCluster,
  startZooKeeper,
} from '../helpers/services.js';

const started: Service[] = [];
afterAll(async () => {
  await Promise.all(started.map((s) => s.stop().catch(() => undefined)));
});

async function query(opts: mysql.ConnectionOptions, sql: string): Promise<RowDataPacket[]> {
  const c = await mysql.createConnection(opts);
  try {
    const [rows] = await c.query<RowDataPacket[]>(sql);
    return rows;
  } finally {
    await c.end();
  }
}

describe('test service helpers', () => {
  let db: MariaDBService;

  it('startMariaDB: a private eZone-like MariaDB with ready-made logins for every role', async () => {
    db = await startMariaDB({ serverId: 7 });
    started.push(db);
    expect(db.port).toBeGreaterThan(0);
    expect(db.host).toBe('127.0.0.1');
    const [ids] = await query(db.root, 'SELECT @@server_id AS sid, @@gtid_domain_id AS did, @@port AS port');
    expect(ids).toMatchObject({ sid: 7, did: 7, port: db.port });
    for (const role of ['app', 'reader', 'applier'] as const) {
      const [r] = await query(db[role], 'SELECT CURRENT_USER() AS u, DATABASE() AS d');
      expect(r.d).toBe('ezshop');
      expect(String(r.u)).toMatch(new RegExp(`^${db[role].user}@`));
    }
    const tables = (await query(db.app, 'SHOW TABLES')).map((r) => Object.values(r)[0]);
    expect(tables.sort()).toEqual(['orders', 'users']);
  });

  it('startMariaDB: kill() crashes it, restart() brings it back on the same port and data', async () => {
    await query(
      db.app,
      "INSERT INTO users (id, phone, name, updated_at) VALUES ('u-1', '+86-1', 'Li Lei', NOW(6))",
    );
    const oldPid = db.pid;
    await db.kill();
    expect(await db.alive()).toBe(false);
    await expect(query(db.app, 'SELECT 1')).rejects.toThrow();
    await db.restart();
    expect(db.pid).not.toBe(oldPid);
    expect(await db.alive()).toBe(true);
    const [r] = await query(db.app, "SELECT name FROM users WHERE id = 'u-1'");
    expect(r.name).toBe('Li Lei');
    await db.stop();
    expect(await db.alive()).toBe(false);
  });

  it('startMariaDB: another database, no schema', async () => {
    const other = await startMariaDB({ serverId: 9, database: 'other_db', schema: false });
    started.push(other);
    expect(await query(other.app, 'SHOW TABLES')).toEqual([]);
    const [r] = await query(other.root, 'SELECT @@server_id AS sid');
    expect(r.sid).toBe(9);
  });

  it('startRedis: a private Redis without persistence', async () => {
    const r = await startRedis();
    started.push(r);
    const client = new Redis({ host: r.host, port: r.port, lazyConnect: true });
    try {
      await client.connect();
      await client.set('order:1', 'placed');
      expect(await client.get('order:1')).toBe('placed');
      expect(await client.config('GET', 'save')).toEqual(['save', '']);
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
    } finally {
      client.disconnect();
    }
    await r.restart();
    const again = new Redis({ host: r.host, port: r.port, lazyConnect: true });
    try {
      await again.connect();
      expect(await again.get('order:1')).toBeNull(); // a cache: empty after a restart
    } finally {
      again.disconnect();
    }
  });

  it('startZooKeeper: a standalone ZooKeeper that node-zookeeper-client can use', async () => {
    const zk = await startZooKeeper();
    started.push(zk);
    const client = zookeeperClient.createClient(zk.connectString, { sessionTimeout: 5000 });
    const connected = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ZooKeeper session within 20 s (${zk.connectString})`)),
        20_000,
      );
      client.once('connected', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    client.connect();
    try {
      await connected;
      await new Promise<void>((resolve, reject) =>
        client.create('/ez', Buffer.from('epoch=1'), (err) => (err ? reject(err) : resolve())),
      );
      const data = await new Promise<Buffer | undefined>((resolve, reject) =>
        client.getData('/ez', (err, d) => (err ? reject(err) : resolve(d))),
      );
      expect(data?.toString()).toBe('epoch=1');
    } finally {
      client.close();
    }
  });
});

describe('up --with zookeeper', () => {
  it('starts ZooKeeper only when asked, stops it with down', async () => {
    const cluster = await startZoneCluster(undefined, { with: ['zookeeper'] });
    try {
      const zk = cluster.started.processes.find((p) => p.kind === 'zookeeper');
      expect(zk).toMatchObject({ name: 'zookeeper', zone: null, alive: true, ready: true });
      expect(zk!.port).toBe(cluster.topology.deployment.zookeeper!.port);
      // a plain up keeps it (it is recorded) but does not need it
      const again = await cluster.up({ with: [] });
      expect(again.processes.find((p) => p.kind === 'zookeeper')?.pid).toBe(zk!.pid);
      const result = await cluster.down({ purge: true });
      expect(result.stopped.map((s) => s.name)).toContain('zookeeper');
      // reverse order: ZooKeeper (no dependants) may stop in any order, but every pid is gone
      expect(await hostFor('local').isAlive(zk!.pid)).toBe(false);
    } finally {
      await cluster.down({ purge: true }).catch(() => undefined);
    }
  });
});

describe('global teardown safety net', () => {
  it('kills recorded pids that still run, and only the very process that was recorded', async () => {
    const pidDir = join(tempDir('pids'), 'pids');
    const host = hostFor('local');
    const saved = process.env.EZ_TEST_PID_DIR;
    process.env.EZ_TEST_PID_DIR = pidDir;
    let stray: { pid: number } | undefined;
    try {
      stray = await host.spawnDetached('sleep', ['300'], { logFile: join(pidDir, '..', 'sleep.log') });
    } finally {
      process.env.EZ_TEST_PID_DIR = saved;
    }
    expect(readdirSync(pidDir)).toEqual([`${stray.pid}.json`]);
    // a process that is not the recorded one (another start token) must survive
    const bystander = spawn('sleep', ['300'], { stdio: 'ignore' });
    writeFileSync(
      join(pidDir, `${bystander.pid}.json`),
      JSON.stringify({ pid: bystander.pid, cmd: 'sleep', args: [], startToken: 'other-boot:1' }),
    );
    try {
      const reaped = await reapRecordedPids(pidDir);
      expect(reaped).toEqual([`sleep (pid ${stray.pid})`]);
      expect(await host.isAlive(stray.pid)).toBe(false);
      expect(await host.isAlive(bystander.pid!)).toBe(true);
    } finally {
      bystander.kill('SIGKILL');
    }
  });
});
