// The DAL's statement classifier: plans and their cache, the session's database, and the guards
// against node-sql-parser's misreadings (the table of tricky statements is in dal-sql-statements).
import pkg from 'node-sql-parser';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { bind, slotValues } from '../../src/dal/sql/bind.js';
import { StatementClassifier } from '../../src/dal/sql/classify.js';
import { updatePlan } from '../../src/dal/sql/dml.js';
import { lexSql } from '../../src/dal/sql/lexer.js';
import { namesIn } from '../../src/dal/sql/tokens.js';
import type { DalSchema, Plan, WritePlan } from '../../src/dal/sql/types.js';

const SCHEMA: DalSchema = {
  database: 'ezdb',
  tables: new Map([
    ['orders', { kind: 'sharded', shardColumn: 'shard_id', orderIdColumn: 'id', primaryKey: ['id'] }],
    ['users', { kind: 'global', primaryKey: ['id'] }],
    ['audit_log', { kind: 'local', primaryKey: ['id'] }],
  ]),
};

const classifier = (cacheSize?: number) =>
  new StatementClassifier(SCHEMA, { serverVersion: 101119, cacheSize });

function plan(c: StatementClassifier, sql: string, database?: string | null): Plan {
  const r = c.classifyText(sql, database === undefined ? {} : { database });
  expect(r.statements, sql).toHaveLength(1);
  return r.statements[0].plan;
}

const code = (p: Plan): string => (p.kind === 'refused' ? p.refusal.code : 'allow');

afterEach(() => {
  vi.restoreAllMocks();
});

describe('cache', () => {
  it('parses a shape once: the next statement of that shape is a cache hit', () => {
    const astify = vi.spyOn(pkg.Parser.prototype, 'astify');
    const c = classifier();
    const a = plan(c, "UPDATE orders SET state = 'a' WHERE shard_id = 1");
    const b = plan(c, "update orders set state = 'b' where shard_id = 2 -- another execution");
    expect(b).toBe(a);
    expect(c.stats).toMatchObject({ parses: 1, misses: 1, hits: 1 });
    expect(astify).toHaveBeenCalledTimes(1); // the counter tells the truth about the parser
    plan(c, 'UPDATE orders SET state = ? WHERE id = ?');
    expect(astify).toHaveBeenCalledTimes(2);
  });

  it('never parses plain reads, transaction control or session statements', () => {
    const astify = vi.spyOn(pkg.Parser.prototype, 'astify');
    const c = classifier();
    for (const sql of [
      'SELECT * FROM orders WHERE id = 1',
      'WITH x AS (SELECT 1) SELECT * FROM x',
      'SHOW TABLES',
      'BEGIN',
      'COMMIT',
      'SET NAMES utf8mb4',
      'USE ezdb',
    ])
      expect(code(plan(c, sql)), sql).toBe('allow');
    expect(astify).not.toHaveBeenCalled();
    expect(c.stats.parses).toBe(0);
  });

  it('evicts the least recently used plan', () => {
    const c = classifier(2);
    plan(c, 'SELECT 1');
    plan(c, 'SELECT 1, 2');
    plan(c, 'SELECT 1'); // now SELECT 1, 2 is the oldest
    plan(c, 'SELECT 1, 2, 3');
    expect(c.stats.size).toBe(2);
    const { hits } = c.stats;
    plan(c, 'SELECT 1');
    expect(c.stats.hits).toBe(hits + 1);
    plan(c, 'SELECT 1, 2');
    expect(c.stats.hits).toBe(hits + 1);
  });

  it('keeps plans apart by the session database (the same digest may name another table)', () => {
    const c = classifier();
    expect(code(plan(c, 'UPDATE orders SET a = 1 WHERE shard_id = 1'))).toBe('allow');
    const other = plan(c, 'UPDATE orders SET a = 1 WHERE shard_id = 1', 'otherdb');
    expect(other).toMatchObject({
      kind: 'refused',
      refusal: { code: 'EZ_UNKNOWN_TABLE', table: 'otherdb.orders' },
    });
    expect(code(plan(c, 'UPDATE ezdb.orders SET a = 1 WHERE shard_id = 1', 'otherdb'))).toBe('allow');
    expect(code(plan(c, 'SELECT * FROM orders', null))).toBe('allow');
  });

  it('does not cache what depends on more than the digest: lexical problems, DDL', () => {
    const c = classifier();
    plan(c, "SELECT 'open");
    plan(c, 'DROP TABLE audit_log');
    plan(c, 'DROP TABLE audit_log');
    expect(c.stats).toMatchObject({ size: 0, uncached: 3 });
  });
});

describe('texts', () => {
  it('carries USE forward through a multi-statement text', () => {
    const c = classifier();
    const r = c.classifyText('USE otherdb; UPDATE orders SET a = 1 WHERE shard_id = 1');
    expect(r.database).toBe('otherdb');
    expect(r.refused).toMatchObject({ code: 'EZ_UNKNOWN_TABLE', table: 'otherdb.orders' });
  });

  it('refuses the whole text on the first refused statement, and an empty text', () => {
    const c = classifier();
    const r = c.classifyText("SELECT 1; UPDATE orders SET a = 1; INSERT INTO audit_log (m) VALUES ('x')");
    expect(r.statements.map((s) => code(s.plan))).toEqual(['allow', 'EZ_NO_SHARD_KEY', 'allow']);
    expect(r.refused?.code).toBe('EZ_NO_SHARD_KEY');
    expect(c.classifyText(' -- nothing\n').refused?.message).toBe('EZ_DENIED an empty statement');
  });

  it('refuses a schema whose sharded table names no shard key', () => {
    expect(
      () =>
        new StatementClassifier({
          database: 'd',
          tables: new Map([['t', { kind: 'sharded', primaryKey: ['id'] }]]),
        }),
    ).toThrow(/sharded table t names neither shardColumn nor orderIdColumn/);
  });
});

describe('plans', () => {
  it('says where a shard comes from: slots, with the key each one is', () => {
    const c = classifier();
    const p = plan(c, "UPDATE orders SET state = 'x' WHERE shard_id IN (3, ?) AND id = 7") as WritePlan;
    expect(p).toMatchObject({ kind: 'write', statement: 'UPDATE', scope: 'shard', lockingRead: false });
    expect(p.targets).toEqual([
      {
        table: 'orders',
        kind: 'sharded',
        assigns: [],
        source: {
          op: 'all',
          of: [
            {
              op: 'any',
              of: [
                { op: 'value', slot: 1, key: 'shard', column: 'shard_id' },
                { op: 'value', slot: 2, key: 'shard', column: 'shard_id' },
              ],
            },
            { op: 'value', slot: 3, key: 'order', column: 'id' },
          ],
        },
      },
    ]);
  });

  it('gives an INSERT one source per row, both key columns of a row together', () => {
    const c = classifier();
    const p = plan(c, 'INSERT INTO orders (state, id, shard_id) VALUES (?, ?, ?), (?, ?, ?)') as WritePlan;
    expect(p.targets[0]).toMatchObject({
      kind: 'sharded',
      source: {
        op: 'any',
        of: [
          {
            op: 'all',
            of: [
              { slot: 1, key: 'order' },
              { slot: 2, key: 'shard' },
            ],
          },
          {
            op: 'all',
            of: [
              { slot: 4, key: 'order' },
              { slot: 5, key: 'shard' },
            ],
          },
        ],
      },
    });
  });

  it('reads hints onto the plan', () => {
    const c = classifier();
    expect(plan(c, "/*ez:read-your-writes*/ SELECT * FROM users WHERE id = 'u'")).toMatchObject({
      kind: 'read',
      hints: ['read-your-writes'],
    });
    expect(plan(c, '/*ez:allow-ddl*/ ALTER TABLE orders ADD COLUMN x INT')).toMatchObject({
      kind: 'ddl',
      override: true,
      tables: [{ table: 'orders', kind: 'sharded' }],
    });
  });

  it('reports transaction control and session statements for the proxy to track', () => {
    const c = classifier();
    expect(plan(c, 'START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT')).toMatchObject({
      kind: 'txn',
      action: 'begin',
      readOnly: true,
    });
    expect(plan(c, 'COMMIT WORK AND CHAIN NO RELEASE')).toMatchObject({
      action: 'commit',
      chain: true,
      release: false,
    });
    expect(plan(c, 'ROLLBACK TO s1')).toMatchObject({ action: 'rollback-to-savepoint', savepoint: 's1' });
    expect(plan(c, 'SET @@session.autocommit = OFF')).toMatchObject({
      action: 'autocommit',
      autocommit: { value: false },
    });
    expect(plan(c, 'SET autocommit = 1')).toMatchObject({ action: 'autocommit', autocommit: { slot: 0 } });
    expect(plan(c, 'USE `my db`')).toMatchObject({ kind: 'session', statement: 'USE', use: 'my db' });
    expect(plan(c, "SET NAMES 'utf8mb4' COLLATE utf8mb4_bin, @a = 1")).toMatchObject({
      kind: 'session',
      variables: ['names', '@a'],
      charsets: [{ slot: 0 }],
    });
  });
});

describe("guards against node-sql-parser's misreadings", () => {
  it.each([
    // MariaDB: (shard_id = 5 AND x = 1) OR y = 2 — all shards; the parser: shard_id = 5 AND (x = (1 || y)) = 2
    'UPDATE orders SET a = 1 WHERE shard_id = 5 AND x = 1 || y = 2',
    // MariaDB: y = 2 OR (z = 3 AND shard_id = 5); the parser: (y = 2 OR z = 3) AND shard_id = 5
    'UPDATE orders SET a = 1 WHERE y = 2 OR z = 3 AND shard_id = 5',
    // MariaDB: (shard_id = 5 AND x BETWEEN 1 AND 2) OR y = 3; the parser: shard_id = 5 AND (… OR y = 3)
    'DELETE FROM orders WHERE shard_id = 5 AND x BETWEEN 1 AND 2 OR y = 3',
    'DELETE FROM orders WHERE shard_id = 5 AND x IN (1) OR y = 2',
    'SELECT * FROM orders WHERE shard_id = 5 AND x IS NULL OR y = 2 FOR UPDATE',
    'UPDATE orders SET a = 1 WHERE shard_id = 5 AND x XOR y',
  ])('refuses %j instead of pinning shard 5', (sql) => {
    const p = plan(classifier(), sql);
    expect(p).toMatchObject({ kind: 'refused', refusal: { code: 'EZ_DENIED' } });
  });

  it('lets parenthesized mixes through and still pins', () => {
    const c = classifier();
    expect(code(plan(c, 'UPDATE orders SET a = 1 WHERE shard_id = 5 AND (x = 1 OR y = 2)'))).toBe('allow');
    expect(
      code(plan(c, 'UPDATE orders SET a = 1 WHERE shard_id = 5 AND x BETWEEN 1 AND 2 AND y IN (1, 2)')),
    ).toBe('allow');
    expect(code(plan(c, 'UPDATE orders SET a = 1 WHERE (shard_id = 5 AND x = 1) OR y = 2'))).toBe(
      'EZ_NO_SHARD_KEY',
    );
  });

  it('reads UPDATE IGNORE / DELETE QUICK as modifiers (the parser takes IGNORE for a table)', () => {
    const c = classifier();
    const u = plan(c, 'UPDATE LOW_PRIORITY IGNORE orders SET a = 1 WHERE shard_id = 5 ORDER BY id LIMIT 3');
    expect(u).toMatchObject({ kind: 'write', targets: [{ table: 'orders', kind: 'sharded' }] });
    const d = plan(c, 'DELETE LOW_PRIORITY QUICK IGNORE FROM orders WHERE shard_id = 5 LIMIT 10');
    expect(d).toMatchObject({ kind: 'write', targets: [{ table: 'orders', kind: 'sharded' }] });
    expect(code(plan(c, 'UPDATE IGNORE nope SET a = 1'))).toBe('EZ_UNKNOWN_TABLE');
  });

  it('refuses a table name the AST reports but the statement does not spell', () => {
    // what node-sql-parser 5.4 makes of `UPDATE IGNORE orders …` when the modifier is not dropped
    const st = lexSql('UPDATE IGNORE orders SET a = 1 WHERE shard_id = 5')[0];
    const ctx = { digest: st.digest, hints: st.hints, schema: SCHEMA, db: 'ezdb', names: namesIn(st.tokens) };
    const ast = {
      type: 'update',
      table: [{ db: null, table: 'IGNORE', as: 'orders' }],
      set: [{ column: 'a', value: { type: 'number', value: 1 }, table: null }],
      where: null,
    };
    expect(updatePlan(ctx, ast)).toMatchObject({
      kind: 'refused',
      refusal: {
        code: 'EZ_DENIED',
        message: expect.stringMatching(/read the name "IGNORE", which the statement does not spell/),
      },
    });
  });

  it('refuses what node-sql-parser cannot parse, without quoting the statement', () => {
    const p = plan(classifier(), "UPDATE orders SET a = 'secret' WHERE shard_id <=> 5");
    expect(p.kind).toBe('refused');
    if (p.kind !== 'refused') return;
    expect(p.refusal.message).toMatch(/^EZ_DENIED node-sql-parser 5.4 cannot parse this statement/);
    expect(JSON.stringify(p)).not.toContain('secret');
  });
});

describe('speed', () => {
  it('classifies a cached shape in microseconds: lex, digest, lookup, bind (printed, not asserted)', () => {
    const c = classifier();
    const sqls = [
      "UPDATE orders SET state = 'accepted', updated_at = NOW(6) WHERE shard_id = 17 AND id = 54720567705669633",
      'SELECT * FROM orders WHERE id = 54720567705669633',
      'INSERT INTO orders (id, shard_id, user_id, state) VALUES (54720567705669633, 17, ?, ?)',
    ];
    for (const sql of sqls) {
      const run = (): void => {
        const r = c.classifyText(sql);
        const { statement, plan } = r.statements[0];
        bind(plan, slotValues(statement, ['u1', 'new']));
      };
      for (let i = 0; i < 20_000; i++) run();
      const parses = c.stats.parses;
      const n = 100_000;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) run();
      const us = Number(process.hrtime.bigint() - t0) / n / 1000;
      console.log(`cached classify+bind ${us.toFixed(2)} µs/statement: ${sql.slice(0, 40)}…`);
      expect(c.stats.parses).toBe(parses);
    }
  });
});
