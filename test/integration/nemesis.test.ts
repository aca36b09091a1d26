/**
 * Every nemesis on a real cluster (`ezctl up`, two eZones on 30 ms links): start → its effect
 * observed for real (a link's latency measured, a connection refused, a write through the killed
 * DAL failing, a replicator's /healthz gone, GZS unreachable, a shard moved, an eZone failed over)
 * → stop → the effect gone; and the drill history holds each invoke → ok, in order.
 */
import { createConnection } from 'node:net';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HistoryWriter, isNemesis, pairOperations, readHistory } from '../../harness/history/index.js';
import { type NemesisContext, nemesisFromSpec, runNemesis } from '../../harness/nemesis/index.js';
import { LinkSet } from '../../src/links/index.js';
import { decodeOrderId, OrderIdGenerator } from '../../src/routing/index.js';
import { mysqlAccount } from '../../src/shared/mysql-accounts.js';
import { drcPort, EDGE, linkName } from '../../src/topology/index.js';
import { type DalCluster, shardsOf, startDalCluster } from '../helpers/dal.js';
import { ensureBuilt } from '../helpers/drc.js';
import { tempDir } from '../helpers/run-dir.js';

const A = 'ez-sh'; // GZS and the Global Zone's master live in ez-bj
const B = 'ez-bj';
let cluster: DalCluster;
let ctx: NemesisContext;
let historyFile: string;
let aShards: number[];
/** what each test expects to have added to the history: [nemesis, f] per operation */
const expectedOps: [string, string][] = [];

beforeAll(async () => {
  await ensureBuilt();
  cluster = await startDalCluster();
  aShards = shardsOf(cluster, A).mine;
  const links = await LinkSet.attach({
    toxiproxy: `http://127.0.0.1:${cluster.topology.deployment.links!.port}`,
    topology: cluster.topology,
  });
  historyFile = join(tempDir('nemesis'), 'history.jsonl');
  ctx = {
    topology: cluster.topology,
    stateDir: cluster.stateDir,
    links,
    gzs: cluster.gzs,
    history: new HistoryWriter(historyFile),
  };
}, 120_000);

afterAll(async () => {
  ctx?.history.close();
  await ctx?.links.heal().catch(() => undefined);
  await cluster?.close();
});

const app = mysqlAccount('app');
const insertSql = (id: string, shard: number) =>
  `INSERT INTO orders (id, shard_id, user_id, merchant_id, state, amount_cents, created_at, updated_at) VALUES (${id}, ${shard}, 'u', 'nemesis', 'placed', 1, NOW(6), NOW(6))`;

async function errorOf(p: Promise<unknown>): Promise<Error | null> {
  try {
    await p;
    return null;
  } catch (err) {
    return err as Error;
  }
}

/** `host:port` → a mysql2 connection as the app account (to the eZone behind the link) */
async function connectAt(hostPort: string, timeoutMs = 3000) {
  const [host, port] = hostPort.split(':');
  const c = await mysql.createConnection({
    host,
    port: Number(port),
    user: app.user,
    password: app.password,
    database: cluster.topology.database,
    connectTimeout: timeoutMs,
  });
  c.on('error', () => undefined);
  return c;
}

/** round trips of `SELECT 1` through ez-bj → ez-sh's MariaDB link, in ms (a fresh connection) */
async function linkRtts(n: number): Promise<number[]> {
  const c = await connectAt(ctx.links.address(B, A, 'mysql'));
  try {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await c.query('SELECT 1');
      out.push(performance.now() - t0);
    }
    return out;
  } finally {
    c.destroy();
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** true when a TCP connection to `hostPort` is accepted (and not reset at once) */
function accepts(hostPort: string): Promise<boolean> {
  const [host, port] = hostPort.split(':');
  return new Promise((resolve) => {
    const s = createConnection({ host, port: Number(port) });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function drcHealth(from: string, to: string): Promise<number | null> {
  const port = drcPort(cluster.topology, from, to);
  try {
    return (await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) })).status;
  } catch {
    return null;
  }
}

/** run a nemesis op from a drill-file entry; expect `ok` */
async function run(spec: Record<string, unknown>, op: 'start' | 'stop') {
  const n = nemesisFromSpec(spec, { topology: cluster.topology });
  const e = await runNemesis(n, op, ctx);
  expectedOps.push([n.name, n.stop ? op : 'action']);
  expect(e.type, `${n.describe()} ${op}: ${e.error ?? ''}`).toBe('ok');
  return e;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('nemeses on a real cluster', () => {
  it('latency: 200 ms ± 50 ms measured on the pair, gone after stop', async () => {
    const spec = { nemesis: 'latency', between: [B, A], latency: '200ms', jitter: '50ms' };
    const before = median(await linkRtts(5));
    expect(before).toBeLessThan(120); // the topology's 30 ms link
    const started = await run(spec, 'start');
    expect(started.result?.links).toContain(linkName(B, A, 'mysql'));
    try {
      const slow = await linkRtts(8);
      expect(median(slow)).toBeGreaterThan(before + 140);
      expect(median(slow)).toBeLessThan(before + 300);
      expect(Math.max(...slow) - Math.min(...slow), `jitter: ${slow.map(Math.round)}`).toBeGreaterThan(3);
    } finally {
      await run(spec, 'stop');
    }
    expect(median(await linkRtts(5))).toBeLessThan(before + 60);
  });

  it('partition refuse between the pair: new connections refused; stop: back', async () => {
    const spec = { nemesis: 'partition', between: [A, B], mode: 'refuse' };
    await run(spec, 'start');
    try {
      expect(await accepts(ctx.links.address(B, A, 'mysql'))).toBe(false);
      expect(await accepts(ctx.links.address(A, B, 'mysql'))).toBe(false);
    } finally {
      await run(spec, 'stop');
    }
    expect(await accepts(ctx.links.address(B, A, 'mysql'))).toBe(true);
    expect(await linkRtts(1)).toHaveLength(1);
  });

  it('isolate one eZone: its links to other eZones stall, the edge still reaches it; stop: back', async () => {
    const spec = { nemesis: 'isolate', zone: A, mode: 'stall' };
    const edge = ctx.links.links.find((l) => l.from === EDGE && l.to === A)!;
    expect(edge).toBeDefined();
    const started = await run(spec, 'start');
    expect(started.result?.links).not.toContain(edge.name);
    try {
      // bytes wait: the MySQL handshake through ez-bj → ez-sh never completes
      expect(await errorOf(connectAt(ctx.links.address(B, A, 'mysql'), 1500))).toBeInstanceOf(Error);
      expect(await accepts(edge.listen)).toBe(true);
    } finally {
      await run(spec, 'stop');
    }
    expect(await linkRtts(1)).toHaveLength(1);
  });

  it("kill-dal: a write through that eZone's DAL fails; stop: the DAL is back and takes it", async () => {
    const spec = { nemesis: 'kill-dal', zone: A };
    const S = aShards[0];
    const gen = new OrderIdGenerator(S);
    const started = await run(spec, 'start');
    expect(started.result?.killed).toEqual([expect.objectContaining({ name: `dal@${A}`, kind: 'dal' })]);
    expect(await errorOf(cluster.connect(A).then((c) => c.query(insertSql(gen.next(), S))))).toBeInstanceOf(
      Error,
    );
    const stopped = await run(spec, 'stop');
    expect(stopped.result?.restarted).toEqual([`dal@${A}`]);
    const c = await cluster.connect(A);
    expect(await errorOf(c.query(insertSql(gen.next(), S)))).toBeNull();
  });

  it("kill-drc: the replicator's /healthz is gone; stop: it answers again", async () => {
    const spec = { nemesis: 'kill-drc', from: B, to: A };
    expect(await drcHealth(B, A)).toBe(200);
    const started = await run(spec, 'start');
    expect(started.result?.killed).toEqual([expect.objectContaining({ name: `drc@${A}<-${B}` })]);
    expect(await drcHealth(B, A)).toBeNull();
    expect(await drcHealth(A, B)).toBe(200); // the other direction runs on
    await run(spec, 'stop');
    expect(await drcHealth(B, A)).toBe(200);
  });

  it('kill-gzs: GZS unreachable; stop: it serves the same table again', async () => {
    const spec = { nemesis: 'kill-gzs' };
    const { table } = await cluster.gzs.table();
    await run(spec, 'start');
    expect(await errorOf(cluster.gzs.table())).toBeInstanceOf(Error);
    await run(spec, 'stop');
    expect((await cluster.gzs.table()).table.epoch).toBe(table.epoch);
  });

  it("clock: the eZone's order service makes ids 30 s behind; stop: on time again", async () => {
    const S = aShards[0];
    /** the time in the id of an order A's order service creates now, minus now */
    const skew = async () => {
      const res = await fetch(`${cluster.ordersUrl(A)}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-ez-shard': String(S) },
        body: JSON.stringify({ user: 'u1', merchant: 'm1', amountCents: 100 }),
      });
      const body = (await res.json()) as { order?: { id: string } };
      expect(res.status, JSON.stringify(body)).toBe(201);
      return decodeOrderId(body.order!.id).timestampMs - Date.now();
    };
    expect(Math.abs(await skew())).toBeLessThan(2000);
    const spec = { nemesis: 'clock', zone: A, offset: '-30s' };
    const started = await run(spec, 'start');
    expect(started.result).toMatchObject({ offsetMs: -30_000, restarted: [`orders@${A}`] });
    expect(await skew()).toBeLessThan(-28_000);
    await run(spec, 'stop');
    expect(Math.abs(await skew())).toBeLessThan(2000);
  });

  it('move: a planned shard move there and back, each with its window and steps', async () => {
    const S = aShards[0];
    const there = await run({ nemesis: 'move', shards: [S], to: B, timeout: '10s' }, 'start');
    expect(there.result).toMatchObject({ outcome: 'switched', from: A, to: B, shards: [S] });
    expect(there.result?.windowMs).toBeTypeOf('number');
    expect((await cluster.gzs.table()).table.shards[S]).toEqual({ zone: B, state: 'serving' });
    const back = await run({ nemesis: 'move', shards: [S], to: A, timeout: '10s' }, 'start');
    expect(back.result).toMatchObject({ outcome: 'switched', from: B, to: A });
    expect((await cluster.gzs.table()).table.shards[S]).toEqual({ zone: A, state: 'serving' });
  });

  it('kill-zone + failover (RTO recorded) + restart + failback', async () => {
    const S = aShards[0];
    const gen = new OrderIdGenerator(S);
    const killed = await run({ nemesis: 'kill-zone', zone: A }, 'start');
    const kinds = ((killed.result?.killed ?? []) as { kind: string }[]).map((k) => k.kind);
    expect(kinds).toEqual(expect.arrayContaining(['mariadb', 'dal', 'orders']));
    // nothing of A accepts a connection any more (its MariaDB, DAL, order service), and a write through A's DAL fails
    const ports = cluster.topology.deployment.zones[A].ports;
    for (const port of [ports.mysql, ports.dal, ports.orders])
      expect(await accepts(`127.0.0.1:${port}`), `port ${port} of ${A}`).toBe(false);
    expect(await errorOf(cluster.connect(A).then((c) => c.query(insertSql(gen.next(), S))))).toBeInstanceOf(
      Error,
    );
    const fo = await run({ nemesis: 'failover', from: A, to: B, whenDown: '30s', downAfter: '1s' }, 'start');
    expect(fo.result).toMatchObject({ outcome: 'failed-over', down: true, killEvent: killed.index });
    expect(fo.result?.rtoMs).toBeGreaterThan(0);
    expect(fo.result?.rtoMs).toBeLessThan(40_000);
    console.log(`failover RTO (kill → failover in force): ${fo.result?.rtoMs} ms`);
    const { table } = await cluster.gzs.table();
    for (const s of aShards) expect(table.shards[s]).toEqual({ zone: B, state: 'serving' });

    await run({ nemesis: 'kill-zone', zone: A }, 'stop');
    // A's tail applied at B: DRC clears the order locks of the failover by itself
    await until(
      'the order locks of the failover to clear',
      async () => {
        const t = (await cluster.gzs.table()).table as { orderLockRules?: Record<string, unknown> };
        return Object.keys(t.orderLockRules ?? {}).length === 0 ? true : undefined;
      },
      30_000,
    );
    const fb = await run({ nemesis: 'failback', zone: A }, 'start');
    expect(fb.result?.outcome).toBe('failed-back');
    const after = (await cluster.gzs.table()).table;
    for (const s of aShards) expect(after.shards[s]).toEqual({ zone: A, state: 'serving' });
    await cluster.waitDalEpoch(A, after.epoch, 30_000);
    expect(await errorOf((await cluster.connect(A)).query(insertSql(gen.next(), S)))).toBeNull();
  }, 120_000);

  it('the history file holds every nemesis operation as invoke → ok, in order', () => {
    const events = readHistory(historyFile).filter(isNemesis);
    expect(events.map((e) => e.index)).toEqual(events.map((_, i) => i));
    const ops = pairOperations(events);
    expect(ops.map((o) => [o.invoke.nemesis, o.invoke.f])).toEqual(expectedOps);
    for (const o of ops) {
      expect(o.invoke.type).toBe('invoke');
      expect(o.complete?.type).toBe('ok');
      expect(o.complete!.index).toBe(o.invoke.index + 1); // nothing ran in between
      expect(o.complete!.wall).toBeGreaterThanOrEqual(o.invoke.wall);
    }
  });
});
