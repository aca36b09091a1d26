/**
 * `ezctl shard move` on a cluster from `ezctl up` with 30 ms links: the plan, the refusals, a move
 * under load (no write for S accepted at A after it, every write A acknowledged is at B the moment
 * the move returns), a transaction open across the lock (refused, never lost), and a move whose
 * DRC cannot catch up (rolled back within the timeout; writes resume at A).
 */
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinkSet } from '../../src/links/index.js';
import { OrderIdGenerator } from '../../src/routing/index.js';
import type { MoveReport } from '../../src/switch/index.js';
import { linkName } from '../../src/topology/index.js';
import { type DalCluster, shardsOf, startDalCluster } from '../helpers/dal.js';
import { ensureBuilt } from '../helpers/drc.js';

let cluster: DalCluster;
let mine: number[];

beforeAll(async () => {
  await ensureBuilt();
  cluster = await startDalCluster(); // on links
  ({ mine } = shardsOf(cluster, 'ez-bj'));
}, 120_000);

afterAll(async () => {
  await cluster?.close();
});

const insert = (c: Connection, id: string, shard: number, merchant: string) =>
  c.query(
    `INSERT INTO orders (id, shard_id, user_id, merchant_id, state, amount_cents, created_at, updated_at) VALUES (${id}, ${shard}, 'u', '${merchant}', 'placed', 1, NOW(6), NOW(6))`,
  );

async function move(
  ...args: string[]
): Promise<{ exitCode: number; report: MoveReport & { error?: { code: string } }; stderr: string }> {
  const r = await cluster.ezctl('shard', 'move', ...args, '--json');
  return { exitCode: r.exitCode, report: JSON.parse(r.stdout), stderr: r.stderr };
}

async function ownerOf(shard: number): Promise<{ zone: string; state: string }> {
  return (await cluster.gzs.table()).table.shards[shard];
}

describe('ezctl shard move', () => {
  it('--dry-run prints the plan, DRC lag and expected window, and changes nothing', async () => {
    const before = (await cluster.gzs.table()).table.epoch;
    const r = await cluster.ezctl('shard', 'move', '--shard', String(mine[0]), '--to', 'ez-sh', '--dry-run');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^plan: shard\(s\) \d+: ez-bj -> ez-sh/);
    expect(r.stdout).toMatch(/wait until DRC ez-bj -> ez-sh applied it \(lag now [\d.]+ ms/);
    expect(r.stdout).toMatch(/expected write-block window ≈ \d+ ms; timeout 5000 ms/);
    expect((await cluster.gzs.table()).table.epoch).toBe(before);
  });

  it('refuses (exit 2) what it cannot do safely or at all', async () => {
    const lag = await move('--shard', String(mine[0]), '--to', 'ez-sh', '--max-lag', '0ms');
    expect(lag.exitCode).toBe(2);
    expect(lag.report.error!.code).toBe('EZ_SWITCH_REFUSED');
    const same = await move('--shard', String(mine[0]), '--to', 'ez-bj');
    expect(same.exitCode).toBe(2);
    const bad = await move('--shard', '007', '--to', 'ez-sh');
    expect(bad.exitCode).toBe(2);
    const none = await move('--to', 'ez-sh');
    expect(none.exitCode).toBe(2);
  });

  it('under load: no write for S is accepted at A after the move, and every write A acknowledged is at B when it returns', async () => {
    const shard = mine[1];
    const gen = new OrderIdGenerator(shard);
    const acked: string[] = [];
    const refusedCodes = new Map<string, number>();
    let stop = false;
    const writers = await Promise.all([0, 1, 2].map(() => cluster.connect('ez-bj')));
    const load = writers.map(async (c) => {
      while (!stop) {
        const id = gen.next();
        try {
          await insert(c, id, shard, 'mv-load');
          acked.push(id);
        } catch (err) {
          const code = ((err as { sqlMessage?: string }).sqlMessage ?? 'other').split(' ')[0];
          refusedCodes.set(code, (refusedCodes.get(code) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    const m = await move('--shard', String(shard), '--to', 'ez-sh');
    expect(m.exitCode, `${m.stderr}\n${JSON.stringify(m.report)}`).toBe(0);
    expect(m.report.outcome).toBe('switched');
    // every write A acknowledged is at B the moment the move returned (before any further drain)
    const sh = await cluster.root('ez-sh');
    const snapshot = [...acked];
    const [rows] = await sh.query(
      'SELECT CAST(id AS CHAR) AS id FROM orders WHERE shard_id = ? AND merchant_id = ?',
      [shard, 'mv-load'],
    );
    const atB = new Set((rows as { id: string }[]).map((r) => r.id));
    expect(snapshot.length).toBeGreaterThan(20);
    expect(snapshot.filter((id) => !atB.has(id))).toEqual([]);
    await new Promise((r) => setTimeout(r, 500)); // writers keep trying at A
    stop = true;
    await Promise.all(load);
    expect(acked.length, 'no write was acknowledged at A after the move').toBe(snapshot.length);
    expect((refusedCodes.get('EZ_WRONG_ZONE') ?? 0) + (refusedCodes.get('EZ_LOCKED') ?? 0)).toBeGreaterThan(
      0,
    );
    // A's binlog after the position the move noted: not one of the writers' inserts
    const [pos] = m.report.position!.gtidPos.split(',').filter((g) => g.startsWith('1-1-'));
    expect(pos).toBeDefined();
    const bj = await cluster.root('ez-bj');
    const statements = await cluster.statementsSince(
      'ez-bj',
      await positionOfGtid(bj, m.report.position!.gtidPos),
    );
    expect(statements.filter((s) => s.includes('mv-load'))).toEqual([]);
    const metrics = await (await fetch(`http://127.0.0.1:${cluster.opsPort('ez-bj')}/metrics`)).text();
    expect(metrics).toMatch(/ezdal_refusals_total\{code="EZ_(WRONG_ZONE|LOCKED)"[^}]*\} [1-9]/);
    expect((await ownerOf(shard)).zone).toBe('ez-sh');
    // and back, so later tests find it at ez-bj
    expect((await move('--shard', String(shard), '--to', 'ez-bj')).report.outcome).toBe('switched');
  });

  it('a transaction open on S across the lock is refused, never lost; an autocommit write in flight commits before the position', async () => {
    const shard = mine[2];
    const gen = new OrderIdGenerator(shard);
    const [held, inflight] = [gen.next(), gen.next()];
    const a = await cluster.connect('ez-bj');
    await insert(a, held, shard, 'mv-txn');
    await insert(a, inflight, shard, 'mv-txn');
    await a.beginTransaction();
    await a.query(`UPDATE orders SET state = 'held-open' WHERE id = ${held}`);
    const b = await cluster.connect('ez-bj');
    const slow = b.query(`UPDATE orders SET state = 'in-flight' WHERE id = ${inflight} AND SLEEP(0.3) = 0`);
    await new Promise((r) => setTimeout(r, 50));
    const m = await move('--shard', String(shard), '--to', 'ez-sh');
    expect(m.report.outcome, m.stderr).toBe('switched');
    await slow;
    let commitError = '';
    try {
      await a.commit();
    } catch (err) {
      commitError = (err as { sqlMessage?: string }).sqlMessage ?? '';
    }
    expect(commitError).toMatch(/^EZ_(LOCKED|WRONG_ZONE) /);
    const sh = await cluster.root('ez-sh');
    const [rows] = await sh.query(
      'SELECT CAST(id AS CHAR) AS id, state FROM orders WHERE id IN (?, ?) ORDER BY id',
      [held, inflight],
    );
    expect(rows).toEqual(
      [
        { id: held, state: 'placed' },
        { id: inflight, state: 'in-flight' },
      ].sort((x, y) => (x.id < y.id ? -1 : 1)),
    );
    expect((await move('--shard', String(shard), '--to', 'ez-bj')).report.outcome).toBe('switched');
  });

  it('rolls back within the timeout when DRC cannot catch up (its stream held); writes for S resume at A', async () => {
    const shard = mine[3];
    const links = await LinkSet.attach({
      toxiproxy: `http://127.0.0.1:${cluster.topology.deployment.links!.port}`,
      topology: cluster.topology,
    });
    // DRC ez-bj -> ez-sh runs in ez-sh and reads ez-bj's binlog through this link: hold its bytes
    // for 20 s (the connection stays up, DRC "running" and falling behind); GZS's pushes to
    // ez-sh take another link, so the holders still acknowledge the lock
    const name = linkName('ez-sh', 'ez-bj', 'mysql');
    const link = links.select('ez-sh', 'ez-bj').find((p) => p.name === name)!;
    const held = await link.addToxic({
      name: 'test-hold',
      type: 'latency',
      stream: 'downstream',
      toxicity: 1,
      attributes: { latency: 20_000, jitter: 0 },
    } as never);
    try {
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, 300)); // DRC's stream is held from here on
      const m = await move(
        '--shard',
        String(shard),
        '--to',
        'ez-sh',
        '--timeout',
        '1500ms',
        '--max-lag',
        '10s',
      );
      const took = Date.now() - t0;
      expect(m.exitCode).toBe(1);
      expect(m.report.outcome).toBe('rolled-back');
      expect(m.report.reason).toMatch(/DRC ez-bj -> ez-sh has not applied 1-1-\d+ within \d+ ms/);
      expect(took).toBeLessThan(15_000);
      expect(await ownerOf(shard)).toMatchObject({ zone: 'ez-bj', state: 'serving' });
      const a = await cluster.connect('ez-bj');
      await cluster.waitDalEpoch('ez-bj', m.report.epochs.rollback!);
      await insert(a, new OrderIdGenerator(shard).next(), shard, 'mv-after-rollback');
    } finally {
      await held.remove();
    }
  });
});

/** The binlog file and offset where the GTID position `pos` (of ez-bj's domain) ends. */
async function positionOfGtid(c: Connection, pos: string): Promise<{ file: string; pos: number }> {
  const [logs] = await c.query('SHOW BINARY LOGS');
  const want = pos.split(',').find((g) => g.startsWith('1-1-'))!;
  for (const l of (logs as { Log_name: string }[]).reverse()) {
    const [events] = await c.query('SHOW BINLOG EVENTS IN ?', [l.Log_name]);
    const list = events as { Event_type: string; Info: string; End_log_pos: number }[];
    const i = list.findIndex(
      (e) => e.Event_type === 'Gtid' && e.Info.includes(want.replace(/^1-1-/, 'GTID 1-1-')),
    );
    if (i >= 0) {
      // the end of that transaction: its Xid (commit) event
      const x = list
        .slice(i)
        .find((e) => e.Event_type === 'Xid' || (e.Event_type === 'Query' && /COMMIT/.test(e.Info)));
      return { file: l.Log_name, pos: Number((x ?? list[i]).End_log_pos) };
    }
  }
  throw new Error(`GTID ${want} not found in ez-bj's binlogs`);
}
