/**
 * The DAL started by `ezctl up` in both eZones, in front of real MariaDB, judged at GZS's table:
 * clients unchanged (mariadb CLI, mysql2 text and prepared, sysbench), wrong-zone and locked writes
 * refused before MariaDB sees them (the binlog is read), docs/dal.md's statements table through
 * the real proxy, garbage that leaves it serving, and its status surfaces.
 */

import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrderIdGenerator } from '../../src/routing/index.js';
import { mysqlAccount } from '../../src/shared/mysql-accounts.js';
import { projectRoot } from '../../src/util/paths.js';
import { type DalCluster, mariadbCli, shardsOf, startDalCluster } from '../helpers/dal.js';
import { ensureBuilt } from '../helpers/drc.js';

let cluster: DalCluster;
let db: string;
let mine: number[];
let theirs: number[];

beforeAll(async () => {
  await ensureBuilt();
  cluster = await startDalCluster({ links: false });
  db = cluster.topology.database;
  ({ mine, theirs } = shardsOf(cluster, 'ez-bj'));
}, 120_000);

afterAll(async () => {
  await cluster?.close();
});

const insertSql = (id: string, shard: number, state = 'placed') =>
  `INSERT INTO orders (id, shard_id, user_id, merchant_id, state, amount_cents, created_at, updated_at) VALUES (${id}, ${shard}, 'u1', 'm1', '${state}', 100, NOW(6), NOW(6))`;

/** The MySQL error a statement got, or null when it ran. */
async function errorOf(p: Promise<unknown>): Promise<{ errno: number; message: string } | null> {
  try {
    await p;
    return null;
  } catch (err) {
    const e = err as { errno?: number; sqlMessage?: string; message: string };
    return { errno: e.errno ?? -1, message: e.sqlMessage ?? e.message };
  }
}

describe('clients work through the DAL unchanged', () => {
  it('the mariadb CLI creates, reads, updates and deletes, in and out of transactions', async () => {
    const shard = mine[0];
    const gen = new OrderIdGenerator(shard);
    const [a, b, c] = [gen.next(), gen.next(), gen.next()];
    const script = `
select @@version_comment limit 1;
${insertSql(a, shard)};
SELECT state FROM orders WHERE id = ${a};
UPDATE orders SET state = 'accepted', version = version + 1, updated_at = NOW(6) WHERE id = ${a};
SELECT state, version FROM orders WHERE id = ${a};
BEGIN;
${insertSql(b, shard)};
UPDATE orders SET state = 'cancelled', updated_at = NOW(6) WHERE id = ${b} AND shard_id = ${shard};
COMMIT;
START TRANSACTION;
${insertSql(c, shard)};
ROLLBACK;
SELECT COUNT(*) AS n FROM orders WHERE id = ${c};
DELETE FROM orders WHERE id = ${a};
SELECT COUNT(*) AS gone FROM orders WHERE id = ${a};
`;
    const r = await mariadbCli(cluster.dalPort('ez-bj'), db, script);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('state\nplaced\n');
    expect(r.stdout).toContain('state\tversion\naccepted\t2\n');
    expect(r.stdout).toContain('n\n0\n');
    expect(r.stdout).toMatch(/gone\n0$/);
    // what MariaDB holds, seen directly
    const root = await cluster.root('ez-bj');
    const [rows] = await root.query('SELECT id, state FROM orders WHERE id IN (?, ?, ?) ORDER BY id', [
      a,
      b,
      c,
    ]);
    expect(rows).toEqual([{ id: b, state: 'cancelled' }]);
  });

  it('the mariadb CLI shows a refusal as an error and goes on', async () => {
    const r = await mariadbCli(
      cluster.dalPort('ez-bj'),
      db,
      `UPDATE orders SET state = 'x' WHERE shard_id = ${theirs[0]};\nSELECT 'still here' AS after;\n`,
    );
    expect(r.stderr).toMatch(
      new RegExp(
        `ERROR 1105 \\(HY000\\) at line 1: EZ_WRONG_ZONE shard=${theirs[0]} owner=ez-sh local=ez-bj epoch=\\d+`,
      ),
    );
    expect(r.stdout).toContain('after\nstill here');
  });

  it('mysql2 text and prepared statements: CRUD, transactions, binary rows equal to a direct read', async () => {
    const shard = mine[1];
    const gen = new OrderIdGenerator(shard);
    const dal = await cluster.connect('ez-bj');
    const direct = await cluster.connect('ez-bj', { direct: true });
    const id = gen.next();
    // prepared INSERT, the shard and the id as parameters
    await dal.execute(
      'INSERT INTO orders (id, shard_id, user_id, merchant_id, state, amount_cents, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, NOW(6), NOW(6))',
      [id, shard, 'u-é', 'm1', 'placed', 4321],
    );
    // binary rows (prepared SELECT) and text rows equal what MariaDB gives directly
    const q =
      'SELECT id, shard_id, user_id, state, amount_cents, version, created_at, updated_at FROM orders WHERE id = ?';
    const [viaDal] = await dal.execute(q, [id]);
    const [straight] = await direct.execute(q, [id]);
    expect(viaDal).toEqual(straight);
    expect((viaDal as { user_id: string }[])[0].user_id).toBe('u-é');
    const [textDal] = await dal.query(q, [id]);
    expect(textDal).toEqual(straight);
    // a transaction of two statements on one shard, committed; another rolled back
    await dal.beginTransaction();
    await dal.execute("UPDATE orders SET state = 'accepted', version = version + 1 WHERE id = ?", [id]);
    await dal.execute('UPDATE orders SET amount_cents = amount_cents + 1 WHERE shard_id = ? AND id = ?', [
      shard,
      id,
    ]);
    await dal.commit();
    await dal.beginTransaction();
    await dal.execute("UPDATE orders SET state = 'lost' WHERE id = ?", [id]);
    await dal.rollback();
    const [after] = await direct.query('SELECT state, version, amount_cents FROM orders WHERE id = ?', [id]);
    expect(after).toEqual([{ state: 'accepted', version: 2, amount_cents: 4322 }]);
    // the same prepared statement again (mysql2 caches it): the DAL judges every execution
    const err = await errorOf(
      dal.execute("UPDATE orders SET state = 'accepted', version = version + 1 WHERE id = ?", [
        new OrderIdGenerator(theirs[0]).next(),
      ]),
    );
    expect(err).toMatchObject({ errno: 1105 });
    expect(err!.message).toMatch(new RegExp(`^EZ_WRONG_ZONE shard=${theirs[0]} owner=ez-sh local=ez-bj`));
    await dal.execute('DELETE FROM orders WHERE id = ?', [id]);
    const [gone] = await direct.query('SELECT COUNT(*) AS n FROM orders WHERE id = ?', [id]);
    expect(gone).toEqual([{ n: '0' }]);
  });

  it('multi-statement texts, USE, SET and the variables drivers ask for on connect', async () => {
    const dal = await cluster.connect('ez-bj', { multipleStatements: true });
    const direct = await cluster.connect('ez-bj', { direct: true, multipleStatements: true });
    const text =
      'SET NAMES utf8mb4; SET @cart = 7; SELECT @cart AS cart, @@autocommit AS ac, @@character_set_client AS cs';
    const [viaDal] = await dal.query(text);
    const [straight] = await direct.query(text);
    expect(viaDal).toEqual(straight);
    expect((viaDal as unknown[][])[2]).toEqual([{ cart: '7', ac: '1', cs: 'utf8mb4' }]);
    await dal.query(`USE ${db}`);
    const [v] = await dal.query('SELECT @@version AS v, DATABASE() AS d');
    expect(v).toEqual([{ v: expect.stringMatching(/MariaDB/), d: db }]);
    // what the mysql2 and JDBC drivers ask on connect
    const [vars] = await dal.query(
      'SELECT @@session.auto_increment_increment AS a, @@character_set_client AS b, @@max_allowed_packet AS c, @@sql_mode AS d, @@time_zone AS e, @@tx_isolation AS f',
    );
    expect((vars as unknown[]).length).toBe(1);
  });

  it('sysbench oltp_read_only runs through it without an error', async () => {
    const root = await cluster.root('ez-bj');
    const socket = cluster.started.processes.find((p) => p.name === 'mariadb@ez-bj')!.endpoints.socket;
    await root.query('CREATE DATABASE IF NOT EXISTS sbtest');
    await root.query("GRANT SELECT ON sbtest.* TO 'ezapp'@'127.0.0.1', 'ezapp'@'localhost'");
    const common = ['--mysql-db=sbtest', '--tables=2', '--table-size=2000', '--db-ps-mode=auto'];
    const prep = await execa(
      'sysbench',
      ['oltp_read_only', `--mysql-socket=${socket}`, '--mysql-user=root', ...common, 'prepare'],
      {
        reject: false,
      },
    );
    expect(prep.exitCode, prep.stderr).toBe(0);
    const a = mysqlAccount('app');
    const run = await execa(
      'sysbench',
      [
        'oltp_read_only',
        '--mysql-host=127.0.0.1',
        `--mysql-port=${cluster.dalPort('ez-bj')}`,
        `--mysql-user=${a.user}`,
        `--mysql-password=${a.password}`,
        ...common,
        '--threads=4',
        '--events=400',
        '--time=0',
        'run',
      ],
      { reject: false },
    );
    expect(run.exitCode, `${run.stdout}\n${run.stderr}`).toBe(0);
    const tx = /transactions:\s+(\d+)/.exec(run.stdout);
    expect(Number(tx?.[1])).toBe(400);
    expect(run.stdout).toMatch(/ignored errors:\s+0\s/);
  });
});

describe('the rules, at the DAL of ez-bj', () => {
  it('a write for a shard the other eZone owns is refused and never reaches MariaDB (binlog)', async () => {
    const dal = await cluster.connect('ez-bj');
    const theirId = new OrderIdGenerator(theirs[0]).next();
    const myId = new OrderIdGenerator(mine[0]).next();
    const from = await cluster.binlogPosition('ez-bj');
    const refused = await errorOf(dal.query(insertSql(theirId, theirs[0], 'marker-wrong-zone')));
    expect(refused?.errno).toBe(1105);
    expect(refused?.message).toMatch(
      new RegExp(`^EZ_WRONG_ZONE shard=${theirs[0]} owner=ez-sh local=ez-bj epoch=\\d+$`),
    );
    const prepared = await errorOf(
      dal.execute("UPDATE orders SET state = 'marker-wrong-zone' WHERE shard_id = ?", [theirs[1]]),
    );
    expect(prepared?.message).toMatch(/^EZ_WRONG_ZONE /);
    // the control: an allowed write with a marker of its own does show in the binlog
    await dal.query(insertSql(myId, mine[0], 'marker-allowed'));
    const statements = (await cluster.statementsSince('ez-bj', from)).join('\n');
    expect(statements).toContain('marker-allowed');
    expect(statements).not.toContain('marker-wrong-zone');
    const root = await cluster.root('ez-bj');
    const [rows] = await root.query('SELECT COUNT(*) AS n FROM orders WHERE id = ?', [theirId]);
    expect(rows).toEqual([{ n: '0' }]);
  });

  it('locked shard and locked order: EZ_LOCKED; an order lock also stops statements that name no id', async () => {
    const dal = await cluster.connect('ez-bj');
    const shard = mine[2];
    const gen = new OrderIdGenerator(shard);
    const [locked, other] = [gen.next(), gen.next()];
    await dal.query(insertSql(locked, shard));
    await dal.query(insertSql(other, shard));

    const l = await cluster.gzs.lock(shard, { reason: 'dal test' });
    await cluster.waitDalEpoch('ez-bj', l.epoch);
    const e1 = await errorOf(dal.execute("UPDATE orders SET state = 'x' WHERE id = ?", [locked]));
    expect(e1?.message).toMatch(new RegExp(`^EZ_LOCKED shard=${shard} `));
    const u = await cluster.gzs.unlock(shard);
    await cluster.waitDalEpoch('ez-bj', u.epoch);

    const ol = await cluster.gzs.lockOrder(locked, 'dal test');
    await cluster.waitDalEpoch('ez-bj', ol.epoch);
    const e2 = await errorOf(dal.execute("UPDATE orders SET state = 'x' WHERE id = ?", [locked]));
    expect(e2?.message).toMatch(new RegExp(`^EZ_LOCKED order=${locked} `));
    const e3 = await errorOf(
      dal.query(`UPDATE orders SET state = 'x' WHERE shard_id = ${shard} AND state = 'none'`),
    );
    expect(e3?.message).toMatch(
      new RegExp(`^EZ_LOCKED shard=${shard} epoch=\\d+ \\(order ${locked} is locked;`),
    );
    // another order of the shard, by id: allowed
    expect(
      await errorOf(dal.execute("UPDATE orders SET state = 'accepted' WHERE id = ?", [other])),
    ).toBeNull();
    const ou = await cluster.gzs.unlockOrder(locked);
    await cluster.waitDalEpoch('ez-bj', ou.epoch);
    expect(
      await errorOf(dal.execute("UPDATE orders SET state = 'accepted' WHERE id = ?", [locked])),
    ).toBeNull();
  });

  it('one transaction writing two shards is refused at the second write; the first stays open', async () => {
    const dal = await cluster.connect('ez-bj');
    await dal.beginTransaction();
    await dal.query(`UPDATE orders SET version = version WHERE shard_id = ${mine[0]}`);
    const e = await errorOf(dal.query(`UPDATE orders SET version = version WHERE shard_id = ${mine[1]}`));
    expect(e?.message).toBe(
      `EZ_CROSS_SHARD shard=${mine[1]} txn-shard=${mine[0]} (one transaction writes one shard; commit first)`,
    );
    await dal.commit();
  });

  it('writes to a table the topology does not name are refused; to a local table allowed; DDL on a replicated one needs the hint', async () => {
    const root = await cluster.root('ez-bj');
    await root.query('CREATE TABLE IF NOT EXISTS coupons (code VARCHAR(16) PRIMARY KEY)');
    await root.query("GRANT INSERT, SELECT ON coupons TO 'ezapp'@'127.0.0.1', 'ezapp'@'localhost'");
    const dal = await cluster.connect('ez-bj');
    const e = await errorOf(dal.query("INSERT INTO coupons (code) VALUES ('X')"));
    expect(e?.message).toMatch(/^EZ_UNKNOWN_TABLE table=coupons /);
    const [read] = await dal.query('SELECT COUNT(*) AS n FROM coupons');
    expect(read).toEqual([{ n: '0' }]);
    expect(await errorOf(dal.query("INSERT INTO audit_log (msg) VALUES ('hello')"))).toBeNull();
    const ddl = await errorOf(dal.query('ALTER TABLE orders ADD COLUMN note TEXT'));
    expect(ddl?.message).toMatch(/^EZ_DDL_REFUSED table=orders /);
    // with the hint the DAL lets it through; MariaDB refuses it (the app account has no ALTER)
    const hinted = await errorOf(dal.query('/*ez:allow-ddl*/ ALTER TABLE orders ADD COLUMN note TEXT'));
    expect(hinted?.errno).toBe(1142);
  });
});

// ---- docs/dal.md's statements table, through the real proxy ----------------------------------

interface Row {
  sql: string;
  params: unknown[] | null;
  outcome: string;
}

function statementRows(): Row[] {
  const md = readFileSync(join(projectRoot(), 'docs', 'dal.md'), 'utf8').split('\n');
  const head = md.findIndex((l) => /^\|\s*statement\s*\|\s*outcome\s*\|\s*why\s*\|\s*$/.test(l));
  const rows: Row[] = [];
  for (const line of md.slice(head + 2)) {
    if (!line.startsWith('|')) break;
    const cells: string[] = [];
    let cur = '';
    for (let i = 1; i < line.length - 1; i++) {
      if (line[i] === '\\' && line[i + 1] === '|') {
        cur += '|';
        i++;
      } else if (line[i] === '|') {
        cells.push(cur.trim());
        cur = '';
      } else cur += line[i];
    }
    cells.push(cur.trim());
    const m = /^(`+) ?(.*?) ?\1(?: with `(.*)`)?$/.exec(cells[0])!;
    rows.push({
      sql: m[2].replaceAll('⏎', '\n'),
      params: m[3] === undefined ? null : JSON.parse(m[3]),
      outcome: cells[1],
    });
  }
  return rows;
}

describe("docs/dal.md's statements, through the DAL of ez-bj", () => {
  const rows = statementRows();
  it('reads the table (≥ 30 rows)', () => {
    expect(rows.length).toBeGreaterThanOrEqual(30);
  });

  /**
   * What the DAL must answer: the documented refusal code, or — for "allow shard=N" — EZ_WRONG_ZONE
   * when ez-sh owns N (or N is not in the table), else no DAL refusal (MariaDB may still answer its
   * own error: an unknown column, a missing privilege).
   */
  const expected = (r: Row): string => {
    const m = /^allow shard=(\d+)$/.exec(r.outcome);
    if (m) return cluster.topology.shards.get(Number(m[1])) === 'ez-bj' ? 'allow' : 'EZ_WRONG_ZONE';
    return r.outcome.startsWith('allow') ? 'allow' : r.outcome;
  };

  it.each(rows.map((r) => [r.sql.replaceAll('\n', '⏎').slice(0, 90), r] as const))('%s', async (_n, r) => {
    // a fresh session per row: SET autocommit = 0 or an open transaction must not leak into the next
    const dal = await cluster.connect('ez-bj', { multipleStatements: true });
    try {
      const e = await errorOf(r.params ? dal.execute(r.sql, r.params as never[]) : dal.query(r.sql));
      const refused =
        e && e.errno === 1105 && /^EZ_[A-Z_]+ /.test(e.message) ? e.message.split(' ')[0] : null;
      const want = expected(r);
      if (want === 'allow') expect(refused, e?.message).toBeNull();
      else expect(refused, e?.message ?? 'ran').toBe(want);
    } finally {
      await dal.end().catch(() => undefined);
    }
  });
});

// ---- garbage --------------------------------------------------------------------------------

/** Open a raw TCP connection to the DAL, send `bytes` (after the greeting), read until close or 1 s. */
function raw(port: number, bytes: Buffer[], waitMs = 300): Promise<Buffer> {
  return new Promise((resolve) => {
    const got: Buffer[] = [];
    const s = connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    s.once('data', (greeting) => {
      got.push(greeting);
      for (const b of bytes) s.write(b);
      setTimeout(() => s.destroy(), waitMs);
    });
    s.on('data', (d) => got.push(d));
    s.on('close', () => resolve(Buffer.concat(got)));
  });
}

function rand(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe('garbage never takes the DAL down', () => {
  it('random bytes, bad handshakes, oversized packets and random SQL leave it serving', async () => {
    const port = cluster.dalPort('ez-bj');
    const r = rand(20261202);
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
    const header = (len: number, seq: number) =>
      Buffer.from([len & 0xff, (len >> 8) & 0xff, (len >> 16) & 0xff, seq]);
    const cases: Buffer[][] = [
      [bytes(1)],
      [bytes(3)],
      [bytes(64)],
      [header(0xffffff, 1), bytes(100)], // a packet of 16 MiB announced, never sent
      [header(5, 1), Buffer.from([0, 0, 0, 0, 0])], // a handshake response too short
      [header(40, 1), bytes(40)],
      [header(0, 1)],
      ...Array.from({ length: 30 }, () => [bytes(1 + Math.floor(r() * 300))]),
    ];
    for (const c of cases) await raw(port, c, 50);
    // after a good login: random command packets and random SQL text
    const dal = await cluster.connect('ez-bj', { multipleStatements: true });
    const words = [
      'SELECT',
      'UPDATE',
      'orders',
      'WHERE',
      'shard_id',
      '=',
      '1',
      "'",
      '"',
      '`',
      '(',
      ')',
      ';',
      '/*',
      '*/',
      '--',
      '#',
      '?',
      'OR',
      'AND',
      'SET',
      'INSERT',
      'INTO',
      'VALUES',
      '/*!',
      '\\',
      'FOR UPDATE',
      'ez:',
    ];
    let refusedOrErr = 0;
    for (let i = 0; i < 300; i++) {
      const sql = Array.from(
        { length: 1 + Math.floor(r() * 12) },
        () => words[Math.floor(r() * words.length)],
      ).join(r() < 0.5 ? ' ' : '');
      const e = await errorOf(dal.query(sql));
      if (e) refusedOrErr++;
    }
    expect(refusedOrErr).toBeGreaterThan(200);
    // an oversized packet on a logged-in session: an error, that session closes, the DAL stays
    const big = await cluster.connect('ez-bj');
    const tooBig = await errorOf(big.query(`SELECT '${'x'.repeat(70 << 20)}'`));
    expect(tooBig).not.toBeNull();
    // still serving: a new session reads and writes
    const after = await cluster.connect('ez-bj');
    const [one] = await after.query('SELECT 1 AS ok');
    expect(one).toEqual([{ ok: 1 }]);
    expect((await cluster.health('ez-bj')).ok).toBe(true);
  });

  it('a backend connection killed under a session is an error to that client, not a crash', async () => {
    const dal = await cluster.connect('ez-bj');
    const [[{ id }]] = (await dal.query('SELECT CONNECTION_ID() AS id')) as unknown as [[{ id: number }]];
    const root = await cluster.root('ez-bj');
    await root.query(`KILL ${Number(id)}`);
    const e = await errorOf(dal.query('SELECT 1'));
    expect(e).not.toBeNull();
    const fresh = await cluster.connect('ez-bj');
    expect((await fresh.query('SELECT 2 AS two'))[0]).toEqual([{ two: 2 }]);
  });
});

describe('status surfaces', () => {
  it('ezctl dal status (text and --json), ezctl status lists the DALs, /metrics counts refusals', async () => {
    const text = await cluster.ezctl('dal', 'status');
    expect(text.exitCode, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^EZONE\s+STATE\s+EPOCH\/ACKED/);
    expect(text.stdout).toMatch(/ez-bj\s+serving\s+\d+\/\d+/);
    const json = await cluster.ezctl('dal', 'status', '--zone', 'ez-sh', '--json');
    const s = JSON.parse(json.stdout);
    expect(s.dals).toHaveLength(1);
    expect(s.dals[0]).toMatchObject({ zone: 'ez-sh', state: 'serving', healthy: true });
    expect(s.dals[0].health.epoch).toBeGreaterThanOrEqual(1);
    const bad = await cluster.ezctl('dal', 'status', '--zone', 'ez-nowhere', '--json');
    expect(bad.exitCode).toBe(2);
    const st = await cluster.ezctl('status', '--json', '--state-dir', cluster.stateDir);
    const names = JSON.parse(st.stdout).processes.map((p: { name: string }) => p.name);
    expect(names).toEqual(expect.arrayContaining(['dal@ez-bj', 'dal@ez-sh']));
    const metrics = await (await fetch(`http://127.0.0.1:${cluster.opsPort('ez-bj')}/metrics`)).text();
    expect(metrics).toMatch(/ezdal_refusals_total\{code="EZ_WRONG_ZONE"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/ezdal_statements_total\{kind="read"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/ezdal_plan_cache\{what="hits"[^}]*\} [1-9]/);
  });
});
