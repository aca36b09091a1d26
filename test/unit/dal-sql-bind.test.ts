// bind(): a plan and one execution's values → the shard the proxy checks, the order ids, or a
// refusal that names the bad value for the client and keeps it out of the log reason.
import { describe, expect, it } from 'vitest';
import { type BindResult, bind, slotValues } from '../../src/dal/sql/bind.js';
import { StatementClassifier } from '../../src/dal/sql/classify.js';
import type { SqlValue } from '../../src/dal/sql/lexer.js';
import type { DalSchema } from '../../src/dal/sql/types.js';
import { encodeOrderId } from '../../src/routing/index.js';

const SCHEMA: DalSchema = {
  database: 'ezdb',
  tables: new Map([
    ['orders', { kind: 'sharded', shardColumn: 'shard_id', orderIdColumn: 'id', primaryKey: ['id'] }],
    ['items', { kind: 'sharded', orderIdColumn: 'order_id', primaryKey: ['order_id', 'n'] }],
    ['users', { kind: 'global', primaryKey: ['id'] }],
    ['audit_log', { kind: 'local', primaryKey: ['id'] }],
  ]),
};
const c = new StatementClassifier(SCHEMA, { serverVersion: 101119 });
const T0 = Date.UTC(2026, 5, 1);
const order = (shard: number, sequence = 1): string => encodeOrderId({ timestampMs: T0, shard, sequence });

/** Classify a one-statement text and bind it with `params` for its `?`. */
function run(sql: string, params: readonly SqlValue[] = []): BindResult {
  const r = c.classifyText(sql);
  expect(r.statements, sql).toHaveLength(1);
  const { statement, plan } = r.statements[0];
  return bind(plan, slotValues(statement, params));
}

function refusal(r: BindResult): { code: string; message: string; reason: string } {
  expect(r.ok).toBe(false);
  return r.ok ? { code: '', message: '', reason: '' } : r.refusal;
}

describe('shard values', () => {
  it.each<[SqlValue, number]>([
    [5, 5],
    [5n, 5],
    ['5', 5],
    ['0005', 5],
    [0, 0],
    [1023, 1023],
  ])('binds shard_id = %s', (v, expected) => {
    const r = run('UPDATE orders SET state = ? WHERE shard_id = ?', ['x', v]);
    expect(r).toMatchObject({ ok: true, shard: expected });
  });

  it.each<[SqlValue | undefined, RegExp]>([
    [null, /shard_id is NULL/],
    [undefined, /not bound \(a missing parameter\)/],
    [5.5, /not a shard id/],
    ['5.0', /not a shard id/],
    [' 5', /not a shard id/],
    ['5abc', /not a shard id/],
    [-1, /shard ids are 0\.\.1023/],
    [1024, /shard ids are 0\.\.1023/],
    [2n ** 70n, /not a shard id|shard ids are/],
    [new Uint8Array([5]), /a binary value, not a shard id/],
  ])('refuses shard_id = %s', (v, re) => {
    const params = v === undefined ? ['x'] : ['x', v];
    const f = refusal(run('UPDATE orders SET state = ? WHERE shard_id = ?', params));
    expect(f.code).toBe('EZ_NO_SHARD_KEY');
    expect(f.message).toMatch(/^EZ_NO_SHARD_KEY table=orders /);
    expect(f.message).toMatch(re);
  });

  it('names the bad value to the client but not in the log reason', () => {
    const f = refusal(run("UPDATE orders SET state = 'x' WHERE shard_id = 'private-42'"));
    expect(f.message).toContain('"private-42"');
    expect(f.reason).not.toContain('private-42');
    expect(f.reason).toBe(
      'EZ_NO_SHARD_KEY table=orders shard_id (value 2) is not an integer shard id: expected 0..1023',
    );
  });
});

describe('order ids', () => {
  it('takes the shard from an order id given as a number literal, a string, a bigint or a safe number', () => {
    const id = order(17);
    expect(run(`UPDATE orders SET state = 'x' WHERE id = ${id}`)).toMatchObject({
      ok: true,
      shard: 17,
      targets: [{ table: 'orders', shards: [17], orderIds: [id] }],
    });
    expect(run(`DELETE FROM orders WHERE id = '${id}'`)).toMatchObject({ shard: 17 });
    expect(run('DELETE FROM orders WHERE id = ?', [BigInt(id)])).toMatchObject({ shard: 17 });
    expect(run('DELETE FROM items WHERE order_id = ?', [(3 << 12) | 9])).toMatchObject({ shard: 3 });
  });

  it.each<[SqlValue, RegExp]>([
    ['0123', /leading zero/],
    ['12ab', /not a decimal order id/],
    ['99999999999999999999', /out of range|not a valid order id/],
    [2 ** 60, /not an order id \(a decimal 64-bit id/],
    [null, /id is NULL/],
  ])('refuses id = %s, saying why', (v, re) => {
    const f = refusal(run('UPDATE orders SET state = ? WHERE id = ?', ['x', v]));
    expect(f.message).toMatch(/^EZ_NO_SHARD_KEY table=orders id /);
    expect(f.message).toMatch(re);
    expect(f.reason).not.toMatch(/0123|12ab|9999/);
  });

  it('reports order ids only when every row written is named by one', () => {
    const a = order(4, 1);
    const b = order(4, 2);
    expect(run(`UPDATE orders SET state = 'x' WHERE id IN (${a}, ${b})`)).toMatchObject({
      targets: [{ orderIds: [a, b].sort() }],
    });
    expect(run("UPDATE orders SET state = 'x' WHERE shard_id = 4 AND user_id = 'u'")).toMatchObject({
      targets: [{ shards: [4], orderIds: null }],
    });
    // AND narrows to the ids named; OR of an id and a shard may hit any order of the shard
    expect(run(`UPDATE orders SET state = 'x' WHERE shard_id = 4 AND id = ${a}`)).toMatchObject({
      targets: [{ orderIds: [a] }],
    });
    expect(run(`UPDATE orders SET state = 'x' WHERE shard_id = 4 OR id = ${a}`)).toMatchObject({
      targets: [{ orderIds: null }],
    });
  });
});

describe('one shard per statement', () => {
  it('refuses several shards, from IN, OR or INSERT rows', () => {
    for (const sql of [
      "UPDATE orders SET state = 'x' WHERE shard_id IN (1, 2)",
      "UPDATE orders SET state = 'x' WHERE shard_id = 1 OR shard_id = 2",
      `INSERT INTO orders (id, shard_id) VALUES (${order(1)}, 1), (${order(2)}, 2)`,
    ]) {
      const f = refusal(run(sql));
      expect(f.message, sql).toBe(
        'EZ_NO_SHARD_KEY table=orders writes 2 shards in one statement (1, 2): one statement, like one transaction, writes one shard',
      );
    }
  });

  it('allows one shard named several times, and a contradiction is refused', () => {
    expect(run("UPDATE orders SET state = 'x' WHERE shard_id IN (2, 2) OR shard_id = 2")).toMatchObject({
      shard: 2,
    });
    const f = refusal(run(`UPDATE orders SET state = 'x' WHERE shard_id = 3 AND id = ${order(4)}`));
    expect(f.message).toMatch(
      /the shard key values disagree \(shards 3, 4\): shard_id and id must name the same shard/,
    );
    const g = refusal(run(`INSERT INTO orders (id, shard_id) VALUES (${order(4)}, 3)`));
    expect(g.message).toMatch(/disagree \(shards 3, 4\)/);
  });

  it('counts the shards of every sharded table written or locked', () => {
    const f = refusal(
      run(
        `UPDATE orders o JOIN items i ON i.order_id = o.id SET o.state = 'x', i.n = 1 WHERE o.shard_id = 5 AND i.order_id = ${order(6)}`,
      ),
    );
    expect(f.message).toMatch(/writes 2 shards in one statement \(5, 6\)/);
    expect(
      run(
        `UPDATE orders o JOIN items i ON i.order_id = o.id SET o.state = 'x', i.n = 1 WHERE o.shard_id = 6 AND i.order_id = ${order(6)}`,
      ),
    ).toMatchObject({ ok: true, shard: 6, targets: [{ table: 'orders' }, { table: 'items' }] });
  });
});

describe('shard-key assignments', () => {
  it('allows assigning the shard the statement is in, refuses another one', () => {
    expect(run("UPDATE orders SET shard_id = 7, state = 'x' WHERE shard_id = 7")).toMatchObject({ shard: 7 });
    expect(refusal(run('UPDATE orders SET shard_id = 8 WHERE shard_id = 7')).message).toMatch(
      /changes the shard key \(shard_id moves rows to shard 8\)/,
    );
    expect(run(`UPDATE orders SET id = ${order(7, 9)} WHERE id = ${order(7, 1)}`)).toMatchObject({
      shard: 7,
    });
    expect(refusal(run(`UPDATE orders SET id = ${order(8)} WHERE shard_id = 7`)).message).toMatch(
      /id moves rows to shard 8/,
    );
  });

  it('ON DUPLICATE KEY UPDATE may set a key to VALUES(key) or to the row shard', () => {
    const id = order(9);
    expect(
      run(
        `INSERT INTO orders (id, shard_id) VALUES (${id}, 9) ON DUPLICATE KEY UPDATE shard_id = VALUES(shard_id), id = VALUES(id)`,
      ),
    ).toMatchObject({ shard: 9 });
    expect(
      run(`INSERT INTO orders (id, shard_id) VALUES (${id}, 9) ON DUPLICATE KEY UPDATE shard_id = 9`),
    ).toMatchObject({
      shard: 9,
    });
    expect(
      refusal(run(`INSERT INTO orders (id, shard_id) VALUES (${id}, 9) ON DUPLICATE KEY UPDATE shard_id = 3`))
        .message,
    ).toMatch(/changes the shard key/);
  });
});

describe('other plans', () => {
  it('binds SET autocommit and SET NAMES values, refusing what it cannot read', () => {
    expect(run('SET autocommit = 0')).toMatchObject({ ok: true, autocommit: false });
    expect(run('SET autocommit = ?', ['1'])).toMatchObject({ ok: true, autocommit: true });
    expect(refusal(run('SET autocommit = 2')).message).toMatch(
      /^EZ_DENIED SET autocommit = "2": expected 0 or 1/,
    );
    expect(run("SET NAMES 'UTF8MB4'")).toMatchObject({ ok: true, charsets: ['utf8mb4'] });
    expect(refusal(run("SET NAMES 'sjis'")).message).toMatch(/^EZ_DENIED the character set "sjis"/);
  });

  it('passes reads, local writes and Global-Zone writes without a shard', () => {
    expect(run('SELECT * FROM orders')).toMatchObject({ ok: true, shard: null, global: false, targets: [] });
    expect(run("INSERT INTO audit_log (m) VALUES ('x')")).toMatchObject({
      ok: true,
      shard: null,
      global: false,
      targets: [{ table: 'audit_log', kind: 'local', shards: [] }],
    });
    expect(run("UPDATE users SET name = 'n' WHERE id = 'u'")).toMatchObject({
      ok: true,
      shard: null,
      global: true,
    });
  });

  it('hands a refused plan back as its refusal', () => {
    expect(refusal(run('CALL p()')).code).toBe('EZ_DENIED');
  });

  it('binds a prepared statement: the same plan for every execution, parameters by position', () => {
    const r = c.classifyText('UPDATE orders SET state = ? WHERE shard_id = ? AND id = ?');
    const { statement, plan } = r.statements[0];
    const id = order(12);
    expect(bind(plan, slotValues(statement, ['accepted', 12, id]))).toMatchObject({ ok: true, shard: 12 });
    expect(bind(plan, slotValues(statement, ['accepted', 13, id])).ok).toBe(false);
    expect(slotValues(statement, ['a'])).toEqual(['a', undefined, undefined]);
  });
});
