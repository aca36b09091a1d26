// DDL: which tables a statement changes, from node-sql-parser's AST, and whether the DAL lets it
// through (replicated tables only with /*ez:allow-ddl*/, local ones always, unknown ones never).
import { type DmlContext, resolveTable, unknownTable } from './dml.js';
import type { Token } from './lexer.js';
import { denied, refused } from './refusal.js';
import { wordAt } from './tokens.js';
import type { DdlPlan, RefusedPlan, TableKind } from './types.js';

// node-sql-parser's AST, read loosely (see dml.ts)
type Node = any;

const unq = (s: string): string => s.replaceAll('``', '`');

/** The objects a DDL statement may name, and why the DAL refuses those that are not tables. */
const OBJECTS: Record<string, string | null> = {
  TABLE: null,
  INDEX: null,
  VIEW: 'a view reads tables the DAL cannot see through; create it directly on MariaDB',
  TRIGGER: 'a trigger may write any table behind the DAL',
  PROCEDURE: 'a stored procedure may write any table behind the DAL',
  FUNCTION: 'a stored function may write any table behind the DAL',
  EVENT: 'an event writes tables on its own schedule behind the DAL',
  DATABASE: 'databases are managed outside the DAL',
  SCHEMA: 'databases are managed outside the DAL',
  SEQUENCE: 'a SEQUENCE is a table the topology does not describe',
  USER: 'account management is not done through the DAL',
  ROLE: 'account management is not done through the DAL',
  SERVER: 'server administration is not done through the DAL',
  PACKAGE: 'a stored package may write any table behind the DAL',
  TABLESPACE: 'server administration is not done through the DAL',
  LOGFILE: 'server administration is not done through the DAL',
};

/** The object word of CREATE/ALTER/DROP/RENAME …: TABLE, INDEX, VIEW … ('' when none is found). */
export function ddlObject(t: readonly Token[]): string {
  if (wordAt(t, 0) === 'TRUNCATE') return 'TABLE';
  for (let i = 1; i < Math.min(t.length, 12); i++) {
    const w = wordAt(t, i);
    if (w in OBJECTS) return w;
  }
  return '';
}

/** Refusal of a DDL on something other than a table or index; null for TABLE/INDEX. */
export function ddlObjectRefusal(ctx: DmlContext, t: readonly Token[]): RefusedPlan | null {
  const obj = ddlObject(t);
  const verb = wordAt(t, 0);
  if (obj === '') return denied(ctx, `${verb} of something the DAL does not know`);
  const why = OBJECTS[obj];
  return why === null ? null : denied(ctx, `${verb} ${obj}: ${why}`);
}

/** The tables a parsed DDL statement changes (both names of a rename). */
function ddlTables(ast: Node): { db: string | null; table: string }[] | null {
  const one = (e: Node): { db: string | null; table: string } | null =>
    e !== null && typeof e === 'object' && typeof e.table === 'string'
      ? { db: typeof e.db === 'string' ? unq(e.db) : null, table: unq(e.table) }
      : null;
  const all = (list: Node): { db: string | null; table: string }[] | null => {
    if (!Array.isArray(list)) return null;
    const out = list.map(one);
    return out.every((x) => x !== null) ? (out as { db: string | null; table: string }[]) : null;
  };
  switch (ast?.type) {
    case 'alter': {
      const tables = all(ast.table);
      if (tables === null) return null;
      for (const e of Array.isArray(ast.expr) ? ast.expr : [])
        if (e?.action === 'rename' && typeof e.table === 'string')
          tables.push({ db: null, table: unq(e.table) });
      return tables;
    }
    case 'create':
      if (ast.keyword === 'table') return all(ast.table);
      if (ast.keyword === 'index') return all([ast.table]);
      return null;
    case 'drop':
      if (ast.keyword === 'table') return all(ast.name);
      if (ast.keyword === 'index') return all([ast.table]);
      return null;
    case 'truncate':
      return all(ast.name);
    case 'rename':
      return Array.isArray(ast.table) ? all(ast.table.flat()) : null;
  }
  return null;
}

const STATEMENT: Record<string, string> = {
  alter: 'ALTER TABLE',
  create: 'CREATE',
  drop: 'DROP',
  truncate: 'TRUNCATE TABLE',
  rename: 'RENAME TABLE',
};

/**
 * The plan of a parsed DDL statement. DRC stops a direction at DDL on a replicated table
 * (docs/drc.md): such DDL is the operator's deliberate act in every eZone, so it needs the hint.
 */
export function ddlPlan(ctx: DmlContext, ast: Node): DdlPlan | RefusedPlan {
  const list = ddlTables(ast);
  if (list === null || list.length === 0)
    return denied(ctx, 'DDL whose tables node-sql-parser did not give: refusing rather than guessing');
  const statement =
    ast.type === 'create' || ast.type === 'drop'
      ? `${STATEMENT[ast.type]} ${String(ast.keyword).toUpperCase()}`
      : (STATEMENT[ast.type] ?? String(ast.type).toUpperCase());
  const allow = ctx.hints.includes('allow-ddl');
  const tables: { table: string; kind: TableKind }[] = [];
  let override = false;
  for (const { db, table } of list) {
    for (const name of [table, db])
      if (name !== null && !ctx.names.has(name))
        return denied(
          ctx,
          `node-sql-parser read the name ${JSON.stringify(name.slice(0, 64))}, which the statement does not spell`,
        );
    const r = resolveTable(ctx, db, table);
    if (r.kind === 'unknown') return unknownTable(ctx, r, statement);
    if (r.kind !== 'local') {
      if (!allow)
        return refused(
          ctx,
          'EZ_DDL_REFUSED',
          `${statement} on a replicated (${r.kind}) table: DRC stops replicating at it (docs/drc.md); apply it deliberately in every eZone with /*ez:allow-ddl*/`,
          r.display,
        );
      override = true;
    }
    tables.push({ table: r.display, kind: r.kind });
  }
  return { kind: 'ddl', digest: ctx.digest, hints: ctx.hints, statement, tables, override };
}
