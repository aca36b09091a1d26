/**
 * Fencing at a lock (DESIGN §6 step 1), with real MariaDB, GZS and the DAL started by `ezctl up`:
 * a transaction that wrote shard S is open (idle, or busy with a statement) when S is locked; the
 * DAL's acknowledgement of the lock's epoch waits until it has ended; its COMMIT after the lock
 * is refused; and the binlog holds no write for S after the acknowledgement. Then readiness: a
 * DAL without GZS refuses writes (EZ_NOT_READY), with GZS's cached table it serves them.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostFor, terminate } from '../../src/launch/index.js';
import { OrderIdGenerator } from '../../src/routing/index.js';
import { mysqlAccount } from '../../src/shared/mysql-accounts.js';
import { freePorts } from '../../src/util/net.js';
import { projectRoot } from '../../src/util/paths.js';
import { type DalCluster, shardsOf, startDalCluster } from '../helpers/dal.js';
import { ensureBuilt } from '../helpers/drc.js';
import { tempDir } from '../helpers/run-dir.js';

let cluster: DalCluster;
let mine: number[];

beforeAll(async () => {
  await ensureBuilt();
  cluster = await startDalCluster({ links: false });
  ({ mine } = shardsOf(cluster, 'ez-bj'));
}, 120_000);

afterAll(async () => {
  await cluster?.close();
});

/** The epoch GZS last heard the DAL of `zone` acknowledge. */
async function dalAck(zone: string, epoch: number): Promise<number> {
  const r = await cluster.gzs.acks(epoch);
  const h = r.holders.filter((x) => x.kind === 'dal' && x.zone === zone && x.live);
  expect(h, `one live DAL holder of ${zone}`).toHaveLength(1);
  return h[0].epoch;
}

async function waitAck(zone: string, epoch: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while ((await dalAck(zone, epoch)) < epoch) {
    if (Date.now() > deadline) throw new Error(`the DAL of ${zone} did not acknowledge epoch ${epoch}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Is a statement containing `marker` running in MariaDB right now (processlist)? */
async function running(root: Connection, marker: string): Promise<boolean> {
  const [rows] = await root.query(
    "SELECT COUNT(*) AS n FROM information_schema.processlist WHERE info LIKE CONCAT('%', ?, '%') AND info NOT LIKE '%processlist%'",
    [marker],
  );
  return Number((rows as { n: string }[])[0].n) > 0;
}

async function newOrder(dal: Connection, shard: number): Promise<string> {
  const id = new OrderIdGenerator(shard).next();
  await dal.query(
    `INSERT INTO orders (id, shard_id, user_id, merchant_id, state, amount_cents, created_at, updated_at) VALUES (${id}, ${shard}, 'u', 'm', 'placed', 1, NOW(6), NOW(6))`,
  );
  return id;
}

async function errorOf(p: Promise<unknown>): Promise<string | null> {
  try {
    await p;
    return null;
  } catch (err) {
    return (err as { sqlMessage?: string; message: string }).sqlMessage ?? (err as Error).message;
  }
}

describe('fencing at a lock', () => {
  it('an idle open transaction that wrote S: rolled back at the lock, acknowledged after, its COMMIT refused, nothing in the binlog', async () => {
    const shard = mine[0];
    const a = await cluster.connect('ez-bj');
    const id = await newOrder(a, shard);
    const from = await cluster.binlogPosition('ez-bj');
    await a.beginTransaction();
    await a.query(`UPDATE orders SET state = 'fence-idle', version = version + 1 WHERE id = ${id}`);
    expect((await cluster.health('ez-bj')).openTransactions).toBeGreaterThanOrEqual(1);

    const lock = await cluster.gzs.lock(shard, { reason: 'fence test: idle' });
    await waitAck('ez-bj', lock.epoch);
    const acked = await cluster.binlogPosition('ez-bj');
    const commit = await errorOf(a.commit());
    expect(commit).toMatch(new RegExp(`^EZ_LOCKED shard=${shard} `));
    expect(commit).toMatch(/rolled back/);

    const root = await cluster.root('ez-bj');
    const [rows] = await root.query('SELECT state, version FROM orders WHERE id = ?', [id]);
    expect(rows).toEqual([{ state: 'placed', version: 1 }]);
    expect((await cluster.statementsSince('ez-bj', from)).join('\n')).not.toContain('fence-idle');
    expect(await cluster.statementsSince('ez-bj', acked)).not.toEqual(
      expect.arrayContaining([expect.stringContaining(`${id}`)]),
    );
    await cluster.gzs.unlock(shard);
  });

  it('a transaction busy with a statement on S: the acknowledgement waits until the statement is done; COMMIT refused; binlog clean', async () => {
    const shard = mine[1];
    const a = await cluster.connect('ez-bj');
    const root = await cluster.root('ez-bj');
    const id = await newOrder(a, shard);
    const from = await cluster.binlogPosition('ez-bj');
    await a.beginTransaction();
    await a.query(`UPDATE orders SET version = version + 1 WHERE id = ${id}`);
    const slow = a.query(`UPDATE orders SET state = 'fence-busy' WHERE id = ${id} AND SLEEP(1.5) = 0`);
    while (!(await running(root, 'fence-busy'))) await new Promise((r) => setTimeout(r, 10));

    const lock = await cluster.gzs.lock(shard, { reason: 'fence test: busy' });
    await cluster.waitDalEpoch('ez-bj', lock.epoch);
    // while the statement runs, the DAL holds the new epoch but does not acknowledge it
    let checkedWhileBusy = 0;
    while (await running(root, 'fence-busy')) {
      const ack = await dalAck('ez-bj', lock.epoch);
      if (await running(root, 'fence-busy')) {
        expect(ack).toBeLessThan(lock.epoch);
        checkedWhileBusy++;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(checkedWhileBusy, 'acknowledgements read while the statement ran').toBeGreaterThan(3);
    expect(await errorOf(slow)).toBeNull(); // MariaDB ran it, inside the transaction
    await waitAck('ez-bj', lock.epoch);
    const acked = await cluster.binlogPosition('ez-bj');
    const commit = await errorOf(a.commit());
    expect(commit).toMatch(new RegExp(`^EZ_LOCKED shard=${shard} `));

    const [rows] = await root.query('SELECT state, version FROM orders WHERE id = ?', [id]);
    expect(rows).toEqual([{ state: 'placed', version: 1 }]);
    expect((await cluster.statementsSince('ez-bj', from)).join('\n')).not.toContain('fence-busy');
    expect((await cluster.statementsSince('ez-bj', acked)).join('\n')).not.toContain(id);
    await cluster.gzs.unlock(shard);
  });

  it('an autocommit write in flight: it commits before the acknowledgement, and no write for S after it', async () => {
    const shard = mine[2];
    const a = await cluster.connect('ez-bj');
    const b = await cluster.connect('ez-bj');
    const root = await cluster.root('ez-bj');
    const id = await newOrder(a, shard);
    const from = await cluster.binlogPosition('ez-bj');
    const slow = a.query(`UPDATE orders SET state = 'fence-auto' WHERE id = ${id} AND SLEEP(1) = 0`);
    while (!(await running(root, 'fence-auto'))) await new Promise((r) => setTimeout(r, 10));
    const lock = await cluster.gzs.lock(shard, { reason: 'fence test: autocommit' });
    await cluster.waitDalEpoch('ez-bj', lock.epoch);
    // a new write for S once the DAL holds the lock: refused at once
    const during = await errorOf(b.query(`UPDATE orders SET state = 'fence-after' WHERE id = ${id}`));
    expect(during).toMatch(new RegExp(`^EZ_LOCKED shard=${shard} `));
    let checkedWhileBusy = 0;
    while (await running(root, 'fence-auto')) {
      const ack = await dalAck('ez-bj', lock.epoch);
      if (await running(root, 'fence-auto')) {
        expect(ack).toBeLessThan(lock.epoch);
        checkedWhileBusy++;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(checkedWhileBusy).toBeGreaterThan(2);
    expect(await errorOf(slow)).toBeNull();
    await waitAck('ez-bj', lock.epoch);
    const acked = await cluster.binlogPosition('ez-bj');
    expect(await errorOf(b.query(`UPDATE orders SET state = 'fence-after' WHERE id = ${id}`))).toMatch(
      /^EZ_LOCKED /,
    );
    // the in-flight write is in the binlog, before the position noted after the acknowledgement
    expect((await cluster.statementsSince('ez-bj', from)).join('\n')).toContain('fence-auto');
    const after = (await cluster.statementsSince('ez-bj', acked)).join('\n');
    expect(after).not.toContain('fence-auto');
    expect(after).not.toContain('fence-after');
    const [rows] = await root.query('SELECT state FROM orders WHERE id = ?', [id]);
    expect(rows).toEqual([{ state: 'fence-auto' }]);
    await cluster.gzs.unlock(shard);
  });
});

describe('readiness after a (re)start', () => {
  const host = hostFor('local');
  const started: { pid: number; startToken: string }[] = [];
  afterAll(async () => {
    for (const p of started) await terminate(host, p.pid, { startToken: p.startToken, graceMs: 5000 });
  });

  async function startDal(o: { gzs: string; cacheFile?: string }): Promise<{ port: number; ops: number }> {
    const [port, ops] = await freePorts(2);
    const dir = tempDir('dal-ready');
    const args = [
      join(projectRoot(), 'dist', 'src', 'dal', 'main.js'),
      '--topology',
      cluster.topologyFile,
      '--zone',
      'ez-bj',
      '--port',
      String(port),
      '--ops-port',
      String(ops),
      '--gzs',
      o.gzs,
      ...(o.cacheFile ? ['--cache-file', o.cacheFile] : []),
    ];
    const p = await host.spawnDetached(process.execPath, args, { logFile: join(dir, 'dal.log'), env: {} });
    started.push(p);
    for (let i = 0; i < 200; i++) {
      const ok = await fetch(`http://127.0.0.1:${ops}/healthz`).then(
        () => true,
        () => false,
      );
      if (ok) return { port, ops };
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the DAL did not answer /healthz');
  }

  const connectTo = (port: number) => {
    const a = mysqlAccount('app');
    return mysql.createConnection({
      host: '127.0.0.1',
      port,
      user: a.user,
      password: a.password,
      database: cluster.topology.database,
    });
  };

  it('GZS unreachable and no cache: reads pass, writes are EZ_NOT_READY, /healthz says not ready (503)', async () => {
    const [dead] = await freePorts(1);
    const d = await startDal({ gzs: `http://127.0.0.1:${dead}` });
    const res = await fetch(`http://127.0.0.1:${d.ops}/healthz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ ok: false, ready: false, routingFrom: 'none', epoch: 0 });
    const c = await connectTo(d.port);
    try {
      const [rows] = await c.query('SELECT 1 AS one');
      expect(rows).toEqual([{ one: 1 }]);
      const e = await errorOf(c.query(`UPDATE orders SET state = 'x' WHERE shard_id = ${mine[0]}`));
      expect(e).toMatch(/^EZ_NOT_READY epoch=0 /);
    } finally {
      await c.end();
    }
  });

  it("GZS unreachable with the cache file of GZS's table: writes served from it, /healthz says routingFrom cache", async () => {
    const dir = tempDir('dal-cache');
    mkdirSync(dir, { recursive: true });
    const cacheFile = join(dir, 'routing-cache.json');
    const running = cluster.started.processes.find((p) => p.name === 'dal@ez-bj')!;
    copyFileSync(join(running.dataDir, 'routing-cache.json'), cacheFile);
    const [dead] = await freePorts(1);
    const d = await startDal({ gzs: `http://127.0.0.1:${dead}`, cacheFile });
    let h: Record<string, unknown> = {};
    for (let i = 0; i < 100 && h.ready !== true; i++) {
      h = (await (await fetch(`http://127.0.0.1:${d.ops}/healthz`)).json()) as Record<string, unknown>;
      if (h.ready !== true) await new Promise((r) => setTimeout(r, 100));
    }
    expect(h).toMatchObject({ ok: true, ready: true, routingFrom: 'cache' });
    expect(h.epoch as number).toBeGreaterThanOrEqual(1);
    const c = await connectTo(d.port);
    try {
      expect(
        await errorOf(c.query(`UPDATE orders SET version = version WHERE shard_id = ${mine[3]}`)),
      ).toBeNull();
    } finally {
      await c.end();
    }
  });
});
