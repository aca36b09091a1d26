// Writes and locking reads, from node-sql-parser's AST: which tables a statement writes, and for a
// sharded table which literal positions (slots) must be bound to learn its shard.
import { denied, type PlanContext, refused } from './refusal.js';
import type {
  DalSchema,
  DalTable,
  KeyAssignment,
  RefusedPlan,
  ShardSource,
  TableKind,
  WritePlan,
  WriteTarget,
} from './types.js';

// node-sql-parser's AST types (types.d.ts) describe only part of what 5.4 produces: read it loosely.
type Node = any;

export interface DmlContext extends PlanContext {
  readonly schema: DalSchema;
  /** the session's database (unqualified names are in it); null: none selected */
  readonly db: string | null;
  /** every name the statement spells: a table the AST reports must be one of them */
  readonly names: ReadonlySet<string>;
}

/** A table named in a FROM/UPDATE/INTO list. */
interface Base {
  db: string | null;
  table: string;
  alias: string | null;
}

interface Resolved {
  /** as messages name it: `orders`, or `other.orders` outside the topology's database */
  display: string;
  kind: TableKind | 'unknown';
  spec?: DalTable;
  /** the table is in another database than the topology's */
  foreign: boolean;
}

/** node-sql-parser keeps a backticked name's doubled backticks: `a``b` → a``b. */
const unq = (s: string): string => s.replaceAll('``', '`');

export function resolveTable(ctx: DmlContext, db: string | null, table: string): Resolved {
  const effective = db ?? ctx.db;
  const foreign = effective !== ctx.schema.database;
  const display = foreign ? `${effective ?? '(no database)'}.${table}` : table;
  if (foreign) return { display, kind: 'unknown', foreign };
  const spec = ctx.schema.tables.get(table);
  return spec === undefined
    ? { display, kind: 'unknown', foreign }
    : { display, kind: spec.kind, spec, foreign };
}

export function unknownTable(ctx: DmlContext, r: Resolved, verb: string): RefusedPlan {
  return r.foreign
    ? refused(
        ctx,
        'EZ_UNKNOWN_TABLE',
        `${verb} on a table outside the topology's database ${ctx.schema.database}: the DAL writes only its tables`,
        r.display,
      )
    : refused(
        ctx,
        'EZ_UNKNOWN_TABLE',
        `${verb} on a table the topology does not name: declare it (local, to allow writes here)`,
        r.display,
      );
}

function baseOf(entry: Node): Base | null {
  if (entry === null || typeof entry !== 'object' || typeof entry.table !== 'string') return null;
  return {
    db: typeof entry.db === 'string' ? unq(entry.db) : null,
    table: unq(entry.table),
    alias: typeof entry.as === 'string' ? unq(entry.as) : null,
  };
}

function columnName(ref: Node): string | null {
  const c = ref?.column;
  if (typeof c === 'string') return unq(c);
  if (c && typeof c === 'object' && typeof c.expr?.value === 'string') return unq(c.expr.value);
  return null;
}

/** `:pK` → K (the slot); anything else → -1. */
function slotOf(node: Node): number {
  if (node?.type !== 'param' || typeof node.value !== 'string' || !/^p\d+$/.test(node.value)) return -1;
  return Number(node.value.slice(1));
}

const lower = (s: string | undefined): string | undefined => s?.toLowerCase();

/** Which shard key a column name is, for `spec` (column names are case-insensitive in MariaDB). */
function keyOfName(name: string, spec: DalTable): { key: 'shard' | 'order'; column: string } | null {
  const n = name.toLowerCase();
  if (spec.shardColumn !== undefined && lower(spec.shardColumn) === n)
    return { key: 'shard', column: spec.shardColumn };
  if (spec.orderIdColumn !== undefined && lower(spec.orderIdColumn) === n)
    return { key: 'order', column: spec.orderIdColumn };
  return null;
}

/**
 * Is `ref` a shard-key column of `base`? Qualified: by its alias (or its name when it has none).
 * Unqualified: by name alone — when `base` declares that key column, MariaDB resolves the name to
 * `base` or fails the statement as ambiguous; either way the pin is sound.
 */
function keyColumn(
  ctx: DmlContext,
  ref: Node,
  base: Base,
  spec: DalTable,
): { key: 'shard' | 'order'; column: string } | null {
  if (ref?.type !== 'column_ref') return null;
  const name = columnName(ref);
  if (name === null) return null;
  const k = keyOfName(name, spec);
  if (k === null) return null;
  if (typeof ref.db === 'string' && unq(ref.db) !== (base.db ?? ctx.db)) return null;
  if (typeof ref.table === 'string' && unq(ref.table) !== (base.alias ?? base.table)) return null;
  return k;
}

/**
 * The shard source a WHERE pins for `base`: top-level AND conjuncts `key = v`, `v = key`,
 * `key IN (v, …)`, and OR only when every branch pins. Anything else pins nothing.
 */
function pinOf(ctx: DmlContext, e: Node, base: Base, spec: DalTable): ShardSource | null {
  if (e === null || typeof e !== 'object' || e.type !== 'binary_expr') return null;
  const op = String(e.operator).toUpperCase();
  if (op === 'AND' || op === '&&') {
    const l = pinOf(ctx, e.left, base, spec);
    const r = pinOf(ctx, e.right, base, spec);
    return l !== null && r !== null ? { op: 'all', of: [l, r] } : (l ?? r);
  }
  if (op === 'OR') {
    const l = pinOf(ctx, e.left, base, spec);
    const r = pinOf(ctx, e.right, base, spec);
    return l !== null && r !== null ? { op: 'any', of: [l, r] } : null;
  }
  if (op === '=') {
    for (const [col, val] of [
      [e.left, e.right],
      [e.right, e.left],
    ]) {
      const k = keyColumn(ctx, col, base, spec);
      const slot = slotOf(val);
      if (k !== null && slot >= 0) return { op: 'value', slot, ...k };
    }
    return null;
  }
  if (op === 'IN') {
    const k = keyColumn(ctx, e.left, base, spec);
    const list =
      e.right?.type === 'expr_list' && Array.isArray(e.right.value) ? (e.right.value as Node[]) : null;
    if (k === null || list === null || list.length === 0) return null;
    const of: ShardSource[] = [];
    for (const v of list) {
      const slot = slotOf(v);
      if (slot < 0) return null;
      of.push({ op: 'value', slot, ...k });
    }
    return of.length === 1 ? of[0] : { op: 'any', of };
  }
  return null;
}

function keyList(spec: DalTable): string {
  const keys: string[] = [];
  if (spec.shardColumn !== undefined) keys.push(`${spec.shardColumn} = …`);
  if (spec.orderIdColumn !== undefined) keys.push(`${spec.orderIdColumn} = … (an order id)`);
  return keys.join(' or ');
}

type TargetOrRefusal = WriteTarget | RefusedPlan;

const isRefused = (x: TargetOrRefusal | WritePlan): x is RefusedPlan => (x as RefusedPlan).kind === 'refused';

/** A table written (or locked) by a statement with a WHERE: its kind, and its shard source. */
function whereTarget(
  ctx: DmlContext,
  verb: string,
  base: Base,
  where: Node,
  assigns: readonly KeyAssignment[] = [],
): TargetOrRefusal {
  const r = resolveTable(ctx, base.db, base.table);
  if (r.kind === 'unknown') return unknownTable(ctx, r, verb);
  if (r.kind !== 'sharded') return { table: r.display, kind: r.kind };
  const spec = r.spec!;
  const locking = verb.startsWith('SELECT');
  const why = locking ? ' (a locking read is treated as a write: docs/dal.md)' : '';
  if (where === null || where === undefined)
    return refused(
      ctx,
      'EZ_NO_SHARD_KEY',
      `${verb} without WHERE${why}: expected WHERE ${keyList(spec)} so that the DAL can tell the shard`,
      r.display,
    );
  const source = pinOf(ctx, where, base, spec);
  if (source === null)
    return refused(
      ctx,
      'EZ_NO_SHARD_KEY',
      `${verb}: the WHERE does not pin the shard key to values${why}: expected top-level AND conditions ${keyList(spec)} or IN (…) — or an OR whose every branch does; a range, a function, a subquery, NOT or a column compared with a column pins nothing`,
      r.display,
    );
  return { table: r.display, kind: 'sharded', source, assigns };
}

/** The FROM-list tables of a SELECT (joins included; derived tables and DUAL are not tables). */
function basesOfFrom(from: Node): Base[] {
  if (!Array.isArray(from)) return [];
  const out: Base[] = [];
  for (const f of from) {
    const b = baseOf(f);
    if (b !== null) out.push(b);
  }
  return out;
}

/** Every SELECT with a locking clause in the tree (subqueries, CTEs, UNION members). */
function lockingSelects(node: Node, out: Node[]): Node[] {
  if (Array.isArray(node)) for (const n of node) lockingSelects(n, out);
  else if (node !== null && typeof node === 'object') {
    if (node.type === 'select' && node.locking_read) out.push(node);
    for (const k of Object.keys(node)) {
      const v = node[k];
      if (v !== null && typeof v === 'object') lockingSelects(v, out);
    }
  }
  return out;
}

/** The tables a locking SELECT locks, each pinned by its own query block's WHERE. */
function lockedTargets(ctx: DmlContext, selects: readonly Node[]): TargetOrRefusal[] {
  const out: TargetOrRefusal[] = [];
  for (const s of selects) {
    const verb = `SELECT … ${String(s.locking_read).toUpperCase().startsWith('LOCK') ? 'LOCK IN SHARE MODE' : 'FOR UPDATE'}`;
    for (const b of basesOfFrom(s.from)) out.push(whereTarget(ctx, verb, b, s.where));
  }
  return out;
}

/** A table name the AST reports must be spelled in the statement (the parser has misread before). */
function spelled(ctx: DmlContext, bases: readonly Base[]): RefusedPlan | null {
  for (const b of bases) {
    for (const name of [b.table, b.db, b.alias]) {
      if (name !== null && !ctx.names.has(name))
        return denied(
          ctx,
          `node-sql-parser read the name ${JSON.stringify(name.slice(0, 64))}, which the statement does not spell: refusing rather than guessing`,
        );
    }
  }
  return null;
}

/** Put targets together: refuse the first refused one; a Global-Zone table only on its own. */
function writePlan(
  ctx: DmlContext,
  statement: WritePlan['statement'],
  lockingRead: boolean,
  parts: readonly TargetOrRefusal[],
): WritePlan | RefusedPlan {
  const targets: WriteTarget[] = [];
  for (const p of parts) {
    if (isRefused(p)) return p;
    targets.push(p);
  }
  const global = targets.find((t) => t.kind === 'global');
  const other = targets.find((t) => t.kind !== 'global');
  if (global !== undefined && other !== undefined)
    return denied(
      ctx,
      `the statement writes the Global-Zone table ${global.table} and the ${other.kind} table ${other.table}: a Global-Zone write runs in the master eZone, the other one here; write them in separate statements and transactions`,
    );
  const scope = targets.some((t) => t.kind === 'sharded')
    ? 'shard'
    : global !== undefined
      ? 'global'
      : 'local';
  return { kind: 'write', digest: ctx.digest, hints: ctx.hints, statement, lockingRead, scope, targets };
}

/** A key column assigned a slot: bind() checks it keeps the shard; anything else changes it. */
function keyAssignment(
  ctx: DmlContext,
  verb: string,
  display: string,
  spec: DalTable,
  column: string,
  value: Node,
  allowValuesOf: boolean,
): KeyAssignment | RefusedPlan | null {
  const k = keyOfName(column, spec);
  if (k === null) return null;
  const slot = slotOf(value);
  if (slot >= 0) return { slot, ...k };
  if (allowValuesOf && value?.type === 'function') {
    // ON DUPLICATE KEY UPDATE k = VALUES(k): the inserted row's own value (checked at bind)
    const fname = String(value.name?.name?.[0]?.value ?? '').toUpperCase();
    const args = value.args?.value;
    if (
      (fname === 'VALUES' || fname === 'VALUE') &&
      Array.isArray(args) &&
      args.length === 1 &&
      args[0]?.type === 'column_ref' &&
      columnName(args[0])?.toLowerCase() === column.toLowerCase()
    )
      return null;
  }
  return refused(
    ctx,
    'EZ_NO_SHARD_KEY',
    `${verb} changes the shard key (${k.column}) to an expression: a row stays in its shard; set it to a value (that of the shard written) or leave it out`,
    display,
  );
}

export function insertPlan(ctx: DmlContext, ast: Node): WritePlan | RefusedPlan {
  const verb = ast.type === 'replace' ? 'REPLACE' : 'INSERT';
  const statement = verb;
  const base = Array.isArray(ast.table) ? baseOf(ast.table[0]) : null;
  if (base === null) return denied(ctx, `${verb}: node-sql-parser gave no table`);
  const miss = spelled(ctx, [base]);
  if (miss !== null) return miss;
  const locked = lockedTargets(ctx, lockingSelects(ast.values, []));
  const r = resolveTable(ctx, base.db, base.table);
  if (r.kind === 'unknown') return unknownTable(ctx, r, verb);
  if (r.kind !== 'sharded')
    return writePlan(ctx, statement, false, [{ table: r.display, kind: r.kind }, ...locked]);
  const spec = r.spec!;
  const t = r.display;
  const odku: Node[] = Array.isArray(ast.on_duplicate_update?.set) ? ast.on_duplicate_update.set : [];
  if (verb === 'REPLACE' || odku.length > 0) {
    // the row replaced or updated is found by a unique key: it is in the new row's shard only if
    // that key holds the shard (the schema's primary key; other unique keys: docs/dal.md)
    const pk = spec.primaryKey.map((c) => c.toLowerCase());
    const keyInPk = [spec.shardColumn, spec.orderIdColumn].some(
      (c) => c !== undefined && pk.includes(c.toLowerCase()),
    );
    if (!keyInPk)
      return refused(
        ctx,
        'EZ_NO_SHARD_KEY',
        `${verb === 'REPLACE' ? 'REPLACE' : 'INSERT … ON DUPLICATE KEY UPDATE'} may change a row of another shard: the primary key (${spec.primaryKey.join(', ')}) does not contain ${[spec.shardColumn, spec.orderIdColumn].filter(Boolean).join(' or ')}`,
        t,
      );
  }
  let rows: { columns: string[]; values: Node[] }[];
  if (Array.isArray(ast.set)) {
    rows = [
      { columns: ast.set.map((s: Node) => unq(String(s.column))), values: ast.set.map((s: Node) => s.value) },
    ];
  } else if (ast.values?.type === 'values' && Array.isArray(ast.values.values)) {
    if (!Array.isArray(ast.columns) || ast.columns.length === 0)
      return refused(
        ctx,
        'EZ_NO_SHARD_KEY',
        `${verb} without a column list: name the columns, ${keyList(spec).replaceAll(' = …', '')} among them`,
        t,
      );
    const columns = ast.columns.map((c: Node) =>
      unq(typeof c === 'string' ? c : String(c?.value ?? c?.expr?.value)),
    );
    rows = ast.values.values.map((row: Node) => ({
      columns,
      values: Array.isArray(row?.value) ? row.value : [],
    }));
  } else {
    return refused(
      ctx,
      'EZ_NO_SHARD_KEY',
      `${verb} … SELECT: the shards of the rows are not in the statement; insert VALUES rows naming ${keyList(spec).replaceAll(' = …', '')}`,
      t,
    );
  }
  const perRow: ShardSource[] = [];
  for (let ri = 0; ri < rows.length; ri++) {
    const { columns, values } = rows[ri];
    if (values.length !== columns.length)
      return denied(ctx, `${verb}: row ${ri + 1} has ${values.length} values for ${columns.length} columns`);
    const keys: ShardSource[] = [];
    for (let ci = 0; ci < columns.length; ci++) {
      const k = keyOfName(columns[ci], spec);
      if (k === null) continue;
      const slot = slotOf(values[ci]);
      if (slot < 0)
        return refused(
          ctx,
          'EZ_NO_SHARD_KEY',
          `${verb} row ${ri + 1}: ${k.column} is not a literal value (NULL, DEFAULT or an expression): the DAL cannot tell its shard`,
          t,
        );
      keys.push({ op: 'value', slot, ...k });
    }
    if (keys.length === 0)
      return refused(
        ctx,
        'EZ_NO_SHARD_KEY',
        `${verb} does not set ${keyList(spec).replaceAll(' = …', '')}`,
        t,
      );
    perRow.push(keys.length === 1 ? keys[0] : { op: 'all', of: keys });
  }
  const assigns: KeyAssignment[] = [];
  for (const s of odku) {
    const a = keyAssignment(ctx, 'ON DUPLICATE KEY UPDATE', t, spec, unq(String(s.column)), s.value, true);
    if (a === null) continue;
    if ((a as RefusedPlan).kind === 'refused') return a as RefusedPlan;
    assigns.push(a as KeyAssignment);
  }
  const source: ShardSource = perRow.length === 1 ? perRow[0] : { op: 'any', of: perRow };
  return writePlan(ctx, statement, false, [{ table: t, kind: 'sharded', source, assigns }, ...locked]);
}

export function updatePlan(ctx: DmlContext, ast: Node): WritePlan | RefusedPlan {
  const entries: Node[] = Array.isArray(ast.table) ? ast.table : [];
  const bases = entries.map(baseOf).filter((b): b is Base => b !== null);
  if (bases.length === 0) return denied(ctx, 'UPDATE: node-sql-parser gave no table');
  const miss = spelled(ctx, bases);
  if (miss !== null) return miss;
  const set: Node[] = Array.isArray(ast.set) ? ast.set : [];
  // which table each assignment writes
  const written = new Map<Base, Node[]>();
  for (const s of set) {
    let b: Base | undefined;
    if (typeof s.table === 'string') {
      const q = unq(s.table);
      b = bases.find((x) => (x.alias ?? x.table) === q);
      if (b === undefined)
        return denied(ctx, `UPDATE assigns ${q}.${String(s.column)}, a table the UPDATE does not name`);
    } else if (bases.length === 1 && entries.length === 1) b = bases[0];
    else
      return denied(
        ctx,
        'a multi-table UPDATE with an unqualified assigned column: qualify each one (o.state = …) so that the DAL can tell which tables are written',
      );
    written.set(b, [...(written.get(b) ?? []), s]);
  }
  const parts: TargetOrRefusal[] = [];
  for (const [b, items] of written) {
    const r = resolveTable(ctx, b.db, b.table);
    const assigns: KeyAssignment[] = [];
    if (r.kind === 'sharded') {
      for (const s of items) {
        const a = keyAssignment(ctx, 'UPDATE', r.display, r.spec!, unq(String(s.column)), s.value, false);
        if (a === null) continue;
        if ((a as RefusedPlan).kind === 'refused') return a as RefusedPlan;
        assigns.push(a as KeyAssignment);
      }
    }
    parts.push(whereTarget(ctx, 'UPDATE', b, ast.where, assigns));
  }
  parts.push(...lockedTargets(ctx, lockingSelects(ast, [])));
  return writePlan(ctx, 'UPDATE', false, parts);
}

export function deletePlan(ctx: DmlContext, ast: Node): WritePlan | RefusedPlan {
  const from = basesOfFrom(ast.from);
  const named: Node[] = Array.isArray(ast.table) ? ast.table : [];
  if (from.length === 0 || named.length === 0) return denied(ctx, 'DELETE: node-sql-parser gave no table');
  const miss = spelled(ctx, from);
  if (miss !== null) return miss;
  const parts: TargetOrRefusal[] = [];
  for (const n of named) {
    const t = baseOf(n);
    if (t === null) return denied(ctx, 'DELETE: node-sql-parser gave a target that is not a table');
    // `DELETE o FROM orders o …` names the alias; `DELETE FROM orders` the table itself
    const b =
      from.find((f) => t.db === null && f.alias === t.table) ??
      from.find(
        (f) => f.table === t.table && (t.db === null || f.db === t.db) && (f.alias === null || n.addition),
      );
    if (b === undefined)
      return denied(
        ctx,
        `DELETE target ${JSON.stringify(t.table.slice(0, 64))} is not a table of its FROM list`,
      );
    parts.push(whereTarget(ctx, 'DELETE', b, ast.where));
  }
  parts.push(...lockedTargets(ctx, lockingSelects(ast, [])));
  return writePlan(ctx, 'DELETE', false, parts);
}

/** SELECT … FOR UPDATE / LOCK IN SHARE MODE: a write on every table it locks. */
export function lockingReadPlan(ctx: DmlContext, ast: Node): WritePlan | RefusedPlan {
  const selects = lockingSelects(ast, []);
  if (selects.length === 0)
    return denied(
      ctx,
      'a locking clause node-sql-parser did not place on any SELECT: refusing rather than guessing',
    );
  const bases = selects.flatMap((s) => basesOfFrom(s.from));
  const miss = spelled(ctx, bases);
  if (miss !== null) return miss;
  return writePlan(ctx, 'SELECT', true, lockedTargets(ctx, selects));
}
