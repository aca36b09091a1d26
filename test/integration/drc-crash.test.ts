/**
 * 20 times: start the replicator ez-bj → ez-sh as a real process, SIGKILL it at a random moment
 * while ez-bj is under write load, start it again. Then prove nothing was lost or applied twice:
 * - every row equal in both eZones, with its `version` counter (incremented by every write);
 * - a test trigger in ez-sh counts applies per (id, version): none twice;
 * - ez-sh's binlog: the checkpoint rows of the applied transactions tile ez-bj's transactions
 *   exactly — each group starts right after the previous one ended, none overlaps, none is missing.
 */
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BinlogSource } from '../../src/drc/binlog.js';
import { readerServerId } from '../../src/drc/names.js';
import { type DrcLab, startDrcLab } from '../helpers/drc.js';

const RUNS = 20;

describe('DRC crash safety (SIGKILL under load)', () => {
  let lab: DrcLab;

  beforeAll(async () => {
    lab = await startDrcLab({ zones: 2 });
    const root = await lab.root('ez-sh');
    await root.query(`SET SESSION sql_log_bin = 0;
CREATE TABLE test_applied (id BIGINT UNSIGNED NOT NULL, version INT UNSIGNED NOT NULL, n INT NOT NULL, PRIMARY KEY (id, version));
CREATE TRIGGER test_applied_ai AFTER INSERT ON orders FOR EACH ROW
  INSERT INTO test_applied VALUES (NEW.id, NEW.version, 1) ON DUPLICATE KEY UPDATE n = n + 1;
CREATE TRIGGER test_applied_au AFTER UPDATE ON orders FOR EACH ROW
  INSERT INTO test_applied VALUES (NEW.id, NEW.version, 1) ON DUPLICATE KEY UPDATE n = n + 1;`);
  });

  afterAll(async () => {
    await lab?.close();
  });

  it(`${RUNS} SIGKILLs at random moments: no lost row, no row applied twice`, async () => {
    let stop = false;
    let writes = 0;
    let nextId = 1;
    const load = async (seed: number) => {
      const c = await lab.app('ez-bj');
      let x = seed;
      const rnd = (n: number) => {
        x = (x * 1103515245 + 12345) % 2 ** 31;
        return x % n;
      };
      while (!stop) {
        await c.beginTransaction();
        const stmts = 1 + rnd(3);
        for (let s = 0; s < stmts; s++) {
          if (nextId < 50 || rnd(3) === 0) {
            const id = nextId++;
            await c.query(
              `INSERT INTO orders (id, shard_id, user_id, merchant_id, state, amount_cents, created_at, updated_at)
               VALUES (?, 0, 'u', 'm', 'placed', 100, NOW(6), NOW(6))`,
              [id],
            );
          } else {
            await c.query(
              "UPDATE orders SET version = version + 1, state = 'updated', updated_at = NOW(6) WHERE id = ?",
              [1 + rnd(nextId - 1)],
            );
          }
          writes++;
        }
        await c.commit();
      }
    };
    const loaders = [load(7), load(11)];
    const kills: number[] = [];
    try {
      for (let run = 0; run < RUNS; run++) {
        const p = await lab.startReplicator('ez-bj', 'ez-sh');
        const wait = 150 + Math.floor(Math.random() * 900);
        await new Promise((r) => setTimeout(r, wait));
        await p.kill();
        kills.push(wait);
        lab.procs.splice(lab.procs.indexOf(p), 1);
      }
    } finally {
      stop = true;
      await Promise.all(loaders);
    }
    const last = await lab.startReplicator('ez-bj', 'ez-sh');
    await lab.drain([['ez-bj', 'ez-sh']]);
    expect(writes).toBeGreaterThan(500);
    expect(kills).toHaveLength(RUNS);

    // no lost row: every row identical, version counters included
    const a = await lab.digest('ez-bj', 'orders');
    const b = await lab.digest('ez-sh', 'orders');
    expect(a.rows).toBe(nextId - 1);
    if (a.sha !== b.sha) expect(b.text).toBe(a.text);
    expect(a.sha).toBe(b.sha);

    // no (id, version) applied twice
    const sh = await lab.root('ez-sh');
    const [twice] = await sh.query('SELECT id, version, n FROM test_applied WHERE n > 1 LIMIT 5');
    expect(twice).toEqual([]);
    const [applied] = await sh.query('SELECT COUNT(*) AS n FROM test_applied');
    expect(Number((applied as any[])[0].n)).toBeGreaterThan(nextId - 1);

    // the checkpoint groups in ez-sh's binlog tile ez-bj's transaction sequence
    const groups = await checkpointGroups(lab);
    const sid = lab.zone('ez-bj').serverId;
    const seq = (g: string) => {
      const [d, , s] = g.split('-');
      expect(Number(d)).toBe(sid);
      return Number(s);
    };
    let prev = 0;
    for (const g of groups) {
      expect(seq(g.first), `group ${g.first}..${g.last} after ${prev}`).toBe(prev + 1);
      expect(seq(g.last)).toBeGreaterThanOrEqual(seq(g.first));
      prev = seq(g.last);
    }
    expect(prev).toBeGreaterThan(writes / 3); // the groups cover the whole run (heartbeats go on after it)
    const health = await last.health();
    expect(seq(health.position.lastGtid)).toBeGreaterThanOrEqual(prev);
  });
});

/** (group_first_gtid, last_gtid) of every checkpoint write in ez-sh's binlog, in order. */
async function checkpointGroups(lab: DrcLab): Promise<{ first: string; last: string }[]> {
  const z = lab.zone('ez-sh');
  const c = await mysql.createConnection(z.db.root);
  const [rows] = await c.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos');
  await c.end();
  const end = new Map(
    String((rows as { pos: string }[])[0].pos)
      .split(',')
      .map((g) => [Number(g.split('-')[0]), Number(g.split('-')[2])] as const),
  );
  const out: { first: string; last: string }[] = [];
  const seen = new Map<number, number>();
  await new Promise<void>((resolve, reject) => {
    const src: BinlogSource = new BinlogSource({
      host: '127.0.0.1',
      port: z.db.port,
      user: String(z.db.reader.user),
      password: String(z.db.reader.password),
      readerId: readerServerId(`test-cp-${Math.random()}`),
      database: z.db.database,
      tables: new Set(['drc_checkpoint']),
      from: '',
      onTxn: (t) => {
        for (const ch of t.changes) {
          if (ch.after)
            out.push({ first: String(ch.after.group_first_gtid), last: String(ch.after.last_gtid) });
        }
        seen.set(t.domainId, Number(t.seqNo));
        if ([...end].every(([d, s]) => (seen.get(d) ?? -1) >= s)) src.stop().then(resolve);
      },
      onError: reject,
    });
    src.start();
  });
  return out;
}
