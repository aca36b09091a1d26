// The classifier never crashes: random SQL-ish text, token soups and mangled statements give a plan
// or a documented refusal, bind() with random values too, and a second classification (a cache
// hit) equals the first. Plus the digest's promise: whitespace and comments do not change it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bind, slotValues } from '../../src/dal/sql/bind.js';
import { StatementClassifier } from '../../src/dal/sql/classify.js';
import { lexSql, type SqlValue } from '../../src/dal/sql/lexer.js';
import type { DalSchema, Plan, Refusal } from '../../src/dal/sql/types.js';
import { encodeOrderId } from '../../src/routing/index.js';

const SCHEMA: DalSchema = {
  database: 'ezdb',
  tables: new Map([
    ['orders', { kind: 'sharded', shardColumn: 'shard_id', orderIdColumn: 'id', primaryKey: ['id'] }],
    ['users', { kind: 'global', primaryKey: ['id'] }],
    ['audit_log', { kind: 'local', primaryKey: ['id'] }],
  ]),
};

const CODES = new Set(['EZ_NO_SHARD_KEY', 'EZ_UNKNOWN_TABLE', 'EZ_DDL_REFUSED', 'EZ_DENIED']);
const KINDS = new Set(['read', 'write', 'ddl', 'txn', 'session', 'refused']);

function checkRefusal(r: Refusal): void {
  expect(CODES.has(r.code), r.message).toBe(true);
  expect(r.message.startsWith(`${r.code} `), r.message).toBe(true);
  expect(r.reason.startsWith(`${r.code} `), r.reason).toBe(true);
}

function checkPlan(p: Plan): void {
  expect(KINDS.has(p.kind)).toBe(true);
  if (p.kind === 'refused') checkRefusal(p.refusal);
}

const c = new StatementClassifier(SCHEMA, { serverVersion: 101119, cacheSize: 500 });

/** Classify a text twice (the second mostly from the cache), bind with `values`; check everything. */
function exercise(text: string, values: readonly SqlValue[] = []): void {
  const first = c.classifyText(text);
  const again = c.classifyText(text);
  expect(again).toEqual(first);
  if (first.refused !== null) checkRefusal(first.refused);
  for (const { statement, plan } of first.statements) {
    checkPlan(plan);
    const b = bind(plan, slotValues(statement, values));
    if (!b.ok) checkRefusal(b.refusal);
    else if (b.shard !== null) expect(b.shard >= 0 && b.shard <= 1023).toBe(true);
  }
}

const VOCAB = [
  'SELECT',
  'UPDATE',
  'INSERT',
  'INTO',
  'VALUES',
  'DELETE',
  'FROM',
  'WHERE',
  'SET',
  'AND',
  'OR',
  'NOT',
  'IN',
  'BETWEEN',
  'IS',
  'NULL',
  'FOR',
  'LOCK',
  'SHARE',
  'MODE',
  'ORDER',
  'BY',
  'LIMIT',
  'JOIN',
  'ON',
  'WITH',
  'AS',
  'CREATE',
  'ALTER',
  'DROP',
  'TABLE',
  'INDEX',
  'TRUNCATE',
  'REPLACE',
  'DUPLICATE',
  'KEY',
  'IGNORE',
  'BEGIN',
  'COMMIT',
  'ROLLBACK',
  'START',
  'TRANSACTION',
  'SAVEPOINT',
  'RELEASE',
  'USE',
  'CALL',
  'LOAD',
  'DATA',
  'INFILE',
  'GLOBAL',
  'SESSION',
  'NAMES',
  'autocommit',
  'CASE',
  'WHEN',
  'THEN',
  'ELSE',
  'END',
  'XOR',
  'VALUE',
  'orders',
  'users',
  'audit_log',
  'coupons',
  'ezdb',
  'other',
  'o',
  'u',
  'shard_id',
  'id',
  'state',
  '`orders`',
  '`shard id`',
  '`a``b`',
  "'x'",
  "'a;b'",
  '"q"',
  "_utf8mb4'z'",
  "X'41'",
  '0x1f',
  '5',
  '17',
  '7290412234567680001',
  '1.5',
  '?',
  '@x',
  '@@session',
  '@@global',
  '.',
  ',',
  '(',
  ')',
  '=',
  '<>',
  '<=>',
  '<',
  '>',
  '+',
  '-',
  '*',
  '/',
  '||',
  '&&',
  '!',
  ':=',
  ';',
  '/*ez:allow-ddl*/',
  '/*ez:read-your-writes*/',
  '/*! ',
  '*/',
  '/* c */',
  '-- c\n',
  '#c\n',
  '\n',
  "'",
  '`',
  '"',
  '/*!50000',
  '/*!999999',
  '\\',
  '{',
  ':',
];
// biome-ignore format: a vocabulary reads better packed

const SEEDS = [
  "UPDATE orders SET state = 'accepted' WHERE shard_id = 17 AND id = 54720567705669633",
  'INSERT INTO orders (id, shard_id, state) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE state = VALUES(state)',
  "DELETE o FROM orders o JOIN audit_log a ON a.order_id = o.id WHERE o.shard_id = 17 AND a.msg = 'x'",
  'SELECT * FROM orders WHERE id IN (SELECT id FROM orders WHERE shard_id = 5) FOR UPDATE',
  "WITH late AS (SELECT id FROM orders WHERE shard_id = 17) UPDATE orders SET state = 'late' WHERE shard_id = 17",
  "/*ez:allow-ddl*/ ALTER TABLE orders ADD COLUMN note VARCHAR(10) DEFAULT 'x' COMMENT 'y'",
  "SET NAMES utf8mb4; SET @a = 1, SESSION autocommit = 0; START TRANSACTION READ ONLY; COMMIT",
  "UPDATE `orders` SET `state` = _utf8mb4'x' 'y' /*! , note = 'z' */ WHERE `shard_id` IN (1, ?) -- c",
];

const value: fc.Arbitrary<SqlValue> = fc.oneof(
  fc.integer({ min: -5, max: 2000 }),
  fc.bigInt({ min: -5n, max: 2n ** 64n }),
  fc.constantFrom(
    '5',
    '17',
    '054720567705669633',
    '54720567705669633',
    'x',
    '',
    '1e3',
    'utf8mb4',
    'gbk',
    'ON',
  ),
  fc.string({ maxLength: 25 }),
  fc.constant(null),
  fc.double(),
  fc.uint8Array({ maxLength: 4 }),
);

describe('the classifier never crashes', () => {
  it('on random SQL-ish text', () => {
    const chars = fc.constantFrom(
      ...'SELECTUPDATEINSERTDELETEFROMWHEREANDORsetwhere_orders shard_id id 0123456789'.split(''),
      ...` \n\t\r';"\`#-/*!?@().,=<>|&:\\{}M`.split(''),
    );
    fc.assert(
      fc.property(
        fc.string({ unit: chars, maxLength: 120 }),
        fc.array(value, { maxLength: 6 }),
        (text, vals) => {
          exercise(text, vals);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('on arbitrary Unicode, control characters included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (text) => {
        exercise(text);
      }),
      { numRuns: 800 },
    );
  });

  it('on token soups', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...VOCAB), { maxLength: 40 }),
        fc.array(value, { maxLength: 8 }),
        (soup, vals) => {
          exercise(soup.join(' '), vals);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('on mangled real statements (characters inserted, deleted, replaced)', () => {
    const edit = fc.record({
      at: fc.nat(),
      del: fc.nat({ max: 3 }),
      ins: fc.constantFrom(
        '',
        "'",
        '`',
        '"',
        ';',
        '-- ',
        '#',
        '/*',
        '*/',
        '/*!',
        ' OR 1',
        '(',
        ')',
        '?',
        ',',
        '\\',
      ),
    });
    fc.assert(
      fc.property(
        fc.constantFrom(...SEEDS),
        fc.array(edit, { maxLength: 4 }),
        fc.array(value, { maxLength: 8 }),
        (seed, edits, vals) => {
          let s = seed;
          for (const e of edits) {
            const at = e.at % (s.length + 1);
            s = s.slice(0, at) + e.ins + s.slice(at + e.del);
          }
          exercise(s, vals);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('digests', () => {
  // tokens that cannot start a comment or a string on their own
  const CLEAN = VOCAB.filter((t) => !/^(--|#|\/\*|\*\/|['"`\\{:]$|\n)/.test(t) && !t.includes('/*'));
  it('do not change when whitespace and comments go between tokens', () => {
    const sep = fc.constantFrom(' ', '  ', '\t', '\n', ' /* c */ ', ' -- c\n ', ' #c\n ', ' /**/ ', '\r\n');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...CLEAN), sep), { minLength: 1, maxLength: 25 }),
        (parts) => {
          const plain = lexSql(parts.map(([t]) => t).join(' '), { serverVersion: 101119 });
          const spaced = lexSql(parts.map(([t, s]) => t + s).join(''), { serverVersion: 101119 });
          expect(spaced.map((x) => [x.digest, x.problem])).toEqual(plain.map((x) => [x.digest, x.problem]));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

// A WHERE clause as a tree (the truth), rendered the way MariaDB reads it back (minimal parentheses:
// `a OR b AND c` is a OR (b AND c)), evaluated on rows of shards 0..5.
interface Row {
  shard: number;
  id: string;
  state: string;
}
type Expr =
  | { t: 'atom'; sql: (q: string) => string; ev: (r: Row) => boolean }
  | { t: 'and' | 'or'; l: Expr; r: Expr; paren: boolean }
  | { t: 'not'; e: Expr; paren: boolean };

const SHARDS = [0, 1, 2, 3, 4, 5];
const orderOf = (shard: number, sequence = 7): string =>
  encodeOrderId({ timestampMs: Date.UTC(2026, 5, 1), shard, sequence });
// two rows per shard, with their own ids (an id names one row, a shard_id both)
const ROWS: Row[] = SHARDS.flatMap((shard) =>
  ['a', 'b'].map((state, i) => ({ shard, id: orderOf(shard, 7 + i), state })),
);

const k = fc.constantFrom(...SHARDS);
const atom: fc.Arbitrary<Expr> = fc.oneof(
  k.map((v) => ({
    t: 'atom' as const,
    sql: (q: string) => `${q}shard_id = ${v}`,
    ev: (r: Row) => r.shard === v,
  })),
  k.map((v) => ({
    t: 'atom' as const,
    sql: (q: string) => `${v} = ${q}shard_id`,
    ev: (r: Row) => r.shard === v,
  })),
  fc.tuple(k, k).map(([a, b]) => ({
    t: 'atom' as const,
    sql: (q: string) => `${q}shard_id IN (${a}, ${b})`,
    ev: (r: Row) => r.shard === a || r.shard === b,
  })),
  k.map((v) => ({
    t: 'atom' as const,
    sql: (q: string) => `${q}id = ${orderOf(v)}`,
    ev: (r: Row) => r.id === orderOf(v),
  })),
  k.map((v) => ({
    t: 'atom' as const,
    sql: (q: string) => `${q}id = '${orderOf(v)}'`,
    ev: (r: Row) => r.id === orderOf(v),
  })),
  k.map((v) => ({
    t: 'atom' as const,
    sql: (q: string) => `${q}shard_id > ${v}`,
    ev: (r: Row) => r.shard > v,
  })),
  k.map((v) => ({
    t: 'atom' as const,
    sql: (q: string) => `${q}shard_id <> ${v}`,
    ev: (r: Row) => r.shard !== v,
  })),
  k.map((v) => ({
    t: 'atom' as const,
    sql: (q: string) => `${q}shard_id + 0 = ${v}`,
    ev: (r: Row) => r.shard === v,
  })),
  fc.tuple(k, k).map(([a, b]) => ({
    t: 'atom' as const,
    sql: (q: string) => `${q}shard_id BETWEEN ${a} AND ${b}`,
    ev: (r: Row) => r.shard >= a && r.shard <= b,
  })),
  fc.constantFrom('a', 'b').map((v) => ({
    t: 'atom' as const,
    sql: (q: string) => `${q}state = '${v}'`,
    ev: (r: Row) => r.state === v,
  })),
  fc.constant({ t: 'atom' as const, sql: (q: string) => `${q}state IS NULL`, ev: () => false }),
  fc.constant({
    t: 'atom' as const,
    sql: (q: string) => `${q}state LIKE 'a%'`,
    ev: (r: Row) => r.state === 'a',
  }),
);
const { expr } = fc.letrec<{ expr: Expr }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    atom,
    fc.record({
      t: fc.constantFrom('and' as const, 'or' as const),
      l: tie('expr'),
      r: tie('expr'),
      paren: fc.boolean(),
    }),
    fc.record({ t: fc.constant('not' as const), e: tie('expr'), paren: fc.boolean() }),
  ),
}));

const PREC = { or: 1, and: 2, not: 3, atom: 4 } as const;
/** SQL for `e` inside an operator of precedence `outer`: parentheses only where MariaDB needs them (or asked). */
function render(e: Expr, outer: number, q: string): string {
  const inner =
    e.t === 'atom'
      ? e.sql(q)
      : e.t === 'not'
        ? `NOT ${render(e.e, PREC.not, q)}`
        : `${render(e.l, PREC[e.t], q)} ${e.t.toUpperCase()} ${render(e.r, PREC[e.t] + 0.5, q)}`;
  return PREC[e.t] < outer || (e.t !== 'atom' && e.paren) ? `(${inner})` : inner;
}
function evaluate(e: Expr, r: Row): boolean {
  if (e.t === 'atom') return e.ev(r);
  if (e.t === 'not') return !evaluate(e.e, r);
  return e.t === 'and' ? evaluate(e.l, r) && evaluate(e.r, r) : evaluate(e.l, r) || evaluate(e.r, r);
}

describe('soundness', () => {
  it('allows a write only when every row it can touch is in the one shard it names (oracle)', () => {
    const verbs = [
      (w: string) => `UPDATE orders SET note = 'n' WHERE ${w}`,
      (w: string) => `DELETE FROM orders WHERE ${w}`,
      (w: string) => `SELECT * FROM orders WHERE ${w} FOR UPDATE`,
    ];
    let allowed = 0;
    let runs = 0;
    fc.assert(
      fc.property(expr, fc.nat({ max: 2 }), fc.boolean(), (e, verb, aliased) => {
        runs++;
        const where = render(e, 0, aliased ? 'o.' : '');
        const sql = verbs[verb](where).replace('FROM orders', aliased ? 'FROM orders o' : 'FROM orders');
        const text = aliased && verb === 0 ? sql.replace('UPDATE orders', 'UPDATE orders o') : sql;
        const r = c.classifyText(text);
        if (r.refused !== null) return;
        const { statement, plan } = r.statements[0];
        const b = bind(plan, slotValues(statement));
        if (!b.ok) return;
        allowed++;
        expect(b.shard, text).not.toBeNull();
        const touched = ROWS.filter((row) => evaluate(e, row));
        for (const row of touched) expect(row.shard, `${text} touches shard ${row.shard}`).toBe(b.shard);
      }),
      { numRuns: 4000 },
    );
    // not vacuous: a good share of the generated statements is allowed, and so checked
    expect(allowed / runs).toBeGreaterThan(0.1);
  });
});
