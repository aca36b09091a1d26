/**
 * Binding: a plan and one execution's values (literals of the text, `?` parameters) → the shard
 * each written table is in, the order ids named, and the one shard the proxy checks with the
 * routing core's write guard (checkWrite). A statement may write one shard only (DESIGN §6).
 */
import { shardOfOrderId } from '../../routing/index.js';
import { MAX_SHARD } from '../../topology/index.js';
import type { LexedStatement, SqlValue } from './lexer.js';
import { SAFE_CHARSETS } from './session.js';
import type { Plan, Refusal, RefusalCode, ShardSource, TableKind, ValueRef, WritePlan } from './types.js';

export interface BoundTarget {
  table: string;
  kind: TableKind;
  /** sharded: the shards the statement may write in this table (sorted); others: [] */
  shards: readonly number[];
  /**
   * sharded: the order ids that name every row written here (for order-level locks, DESIGN §6
   * failover); null when the statement pins the shard column only, so any order of it may be hit
   */
  orderIds: readonly string[] | null;
}

export interface Bound {
  ok: true;
  plan: Plan;
  /** the one shard written (check it with checkWrite); null: no sharded table is written */
  shard: number | null;
  /** a Global-Zone write: send it to the master eZone */
  global: boolean;
  targets: readonly BoundTarget[];
  /** SET autocommit: the new value */
  autocommit?: boolean;
  /** SET NAMES / CHARACTER SET / character_set_client: the charsets named */
  charsets?: readonly string[];
}

export interface BindRefused {
  ok: false;
  refusal: Refusal;
}

export type BindResult = Bound | BindRefused;

/**
 * The values of a statement's slots for one execution: its literals, with `params` in place of
 * its `?` placeholders (COM_STMT_EXECUTE). A missing parameter stays undefined (bind refuses it).
 */
export function slotValues(st: LexedStatement, params: readonly SqlValue[] = []): (SqlValue | undefined)[] {
  return st.slots.map((s) => (s.kind === 'param' ? params[s.param] : s.value));
}

class BindError extends Error {
  constructor(
    readonly code: RefusalCode,
    readonly table: string | undefined,
    /** for the client: may name the value it sent */
    readonly forClient: string,
    /** for logs: no value */
    readonly forLog: string,
  ) {
    super(forLog);
  }
}

const describe = (v: SqlValue | undefined): string =>
  v === undefined
    ? 'missing'
    : v === null
      ? 'NULL'
      : v instanceof Uint8Array
        ? 'a binary value'
        : typeof v === 'string'
          ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)
          : String(v);

/** A shard id from a bound value: an integer 0..MAX_SHARD, as a number, bigint or decimal text. */
function shardOf(v: SqlValue | undefined, slot: number, column: string, table: string): number {
  let n: number | null = null;
  if (typeof v === 'number' && Number.isInteger(v)) n = v;
  else if (typeof v === 'bigint') n = v >= 0n && v <= BigInt(MAX_SHARD) ? Number(v) : -1;
  else if (typeof v === 'string' && /^[0-9]{1,10}$/.test(v)) n = Number(v);
  if (n === null)
    throw new BindError(
      'EZ_NO_SHARD_KEY',
      table,
      `${column} is ${describe(v)}, not a shard id: expected an integer 0..${MAX_SHARD}`,
      `${column} (value ${slot + 1}) is not an integer shard id: expected 0..${MAX_SHARD}`,
    );
  if (n < 0 || n > MAX_SHARD)
    throw new BindError(
      'EZ_NO_SHARD_KEY',
      table,
      `${column} is ${describe(v)}: shard ids are 0..${MAX_SHARD}`,
      `${column} (value ${slot + 1}) is outside the shard ids 0..${MAX_SHARD}`,
    );
  return n;
}

/** The canonical order id of a bound value, and its shard (DESIGN §2). */
function orderOf(
  v: SqlValue | undefined,
  slot: number,
  column: string,
  table: string,
): { id: string; shard: number } {
  let id: string | null = null;
  if (typeof v === 'string') id = v;
  else if (typeof v === 'bigint') id = v.toString();
  else if (typeof v === 'number' && Number.isSafeInteger(v)) id = String(v);
  if (id === null)
    throw new BindError(
      'EZ_NO_SHARD_KEY',
      table,
      `${column} is ${describe(v)}, not an order id (a decimal 64-bit id with the shard in it; numbers beyond 2^53 must be given as strings or bigints)`,
      `${column} (value ${slot + 1}) is not an order id`,
    );
  try {
    return { id, shard: shardOfOrderId(id) };
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^order: /, '') : String(err);
    throw new BindError(
      'EZ_NO_SHARD_KEY',
      table,
      `${column} is not an order id: ${why}`,
      `${column} (value ${slot + 1}) is not an order id`,
    );
  }
}

interface Pinned {
  shards: Set<number>;
  /** null: rows not all named by an order id */
  orders: Set<string> | null;
}

function evaluate(src: ShardSource, values: readonly (SqlValue | undefined)[], table: string): Pinned {
  switch (src.op) {
    case 'value': {
      const v = values[src.slot];
      if (v === undefined || v === null)
        throw new BindError(
          'EZ_NO_SHARD_KEY',
          table,
          `${src.column} is ${v === null ? 'NULL' : 'not bound (a missing parameter)'}: the DAL cannot tell the shard`,
          `${src.column} (value ${src.slot + 1}) is ${v === null ? 'NULL' : 'missing'}`,
        );
      if (src.key === 'shard')
        return { shards: new Set([shardOf(v, src.slot, src.column, table)]), orders: null };
      const o = orderOf(v, src.slot, src.column, table);
      return { shards: new Set([o.shard]), orders: new Set([o.id]) };
    }
    case 'all': {
      // every condition holds: the shards they share; the ids every id-condition allows
      const parts = src.of.map((s) => evaluate(s, values, table));
      const shards = new Set([...parts[0].shards].filter((s) => parts.every((p) => p.shards.has(s))));
      let orders = null as Set<string> | null;
      for (const p of parts) {
        const ids = p.orders;
        if (ids === null) continue;
        orders = orders === null ? new Set(ids) : new Set([...orders].filter((o) => ids.has(o)));
      }
      if (shards.size === 0) {
        const all = [...new Set(parts.flatMap((p) => [...p.shards]))].sort((a, b) => a - b);
        throw new BindError(
          'EZ_NO_SHARD_KEY',
          table,
          `the shard key values disagree (shards ${all.join(', ')}): ${shardKeys(src)} must name the same shard`,
          `the shard key values disagree (shards ${all.join(', ')})`,
        );
      }
      return { shards, orders };
    }
    case 'any': {
      const parts = src.of.map((s) => evaluate(s, values, table));
      const shards = new Set(parts.flatMap((p) => [...p.shards]));
      const orders = parts.every((p) => p.orders !== null)
        ? new Set(parts.flatMap((p) => [...p.orders!]))
        : null;
      return { shards, orders };
    }
  }
}

function shardKeys(src: ShardSource): string {
  const cols = new Set<string>();
  const walk = (s: ShardSource): void => {
    if (s.op === 'value') cols.add(s.column);
    else s.of.forEach(walk);
  };
  walk(src);
  return [...cols].join(' and ');
}

function refusal(e: BindError, digest: string): Refusal {
  const head = e.table === undefined ? e.code : `${e.code} table=${e.table}`;
  return {
    code: e.code,
    ...(e.table === undefined ? {} : { table: e.table }),
    message: `${head} ${e.forClient}`,
    reason: `${head} ${e.forLog}`,
    digest,
  };
}

function resolveRef<T>(
  ref: ValueRef<T>,
  values: readonly (SqlValue | undefined)[],
  read: (v: SqlValue | undefined) => T,
): T {
  return 'value' in ref ? ref.value : read(values[ref.slot]);
}

function bindWrite(plan: WritePlan, values: readonly (SqlValue | undefined)[]): Bound {
  const targets: BoundTarget[] = [];
  const byTable = new Map<string, { shards: Set<number>; orders: Set<string> | null }>();
  for (const t of plan.targets) {
    if (t.kind !== 'sharded') {
      if (!targets.some((x) => x.table === t.table))
        targets.push({ table: t.table, kind: t.kind, shards: [], orderIds: null });
      continue;
    }
    const p = evaluate(t.source, values, t.table);
    // an assigned shard key must keep every row in the shard it is in
    for (const a of t.assigns) {
      const v = values[a.slot];
      if (v === undefined || v === null)
        throw new BindError(
          'EZ_NO_SHARD_KEY',
          t.table,
          `the statement sets ${a.column} to ${v === null ? 'NULL' : 'a missing parameter'}: it changes the shard key`,
          `the statement sets ${a.column} (value ${a.slot + 1}) to ${v === null ? 'NULL' : 'nothing'}`,
        );
      const s =
        a.key === 'shard'
          ? shardOf(v, a.slot, a.column, t.table)
          : orderOf(v, a.slot, a.column, t.table).shard;
      if (p.shards.size !== 1 || !p.shards.has(s))
        throw new BindError(
          'EZ_NO_SHARD_KEY',
          t.table,
          `the statement changes the shard key (${a.column} moves rows to shard ${s}): a row stays in its shard`,
          `the statement changes the shard key (${a.column} to shard ${s})`,
        );
    }
    const prev = byTable.get(t.table);
    if (prev === undefined) byTable.set(t.table, { shards: p.shards, orders: p.orders });
    else {
      for (const s of p.shards) prev.shards.add(s);
      prev.orders = prev.orders !== null && p.orders !== null ? new Set([...prev.orders, ...p.orders]) : null;
    }
  }
  const all = new Set<number>();
  for (const [table, p] of byTable) {
    for (const s of p.shards) all.add(s);
    targets.push({
      table,
      kind: 'sharded',
      shards: [...p.shards].sort((a, b) => a - b),
      orderIds: p.orders === null ? null : [...p.orders].sort(),
    });
  }
  if (all.size > 1) {
    const list = [...all].sort((a, b) => a - b);
    const table = [...byTable.keys()].join(',');
    throw new BindError(
      'EZ_NO_SHARD_KEY',
      table,
      `writes ${list.length} shards in one statement (${list.join(', ')}): one statement, like one transaction, writes one shard`,
      `writes ${list.length} shards in one statement (${list.join(', ')})`,
    );
  }
  return {
    ok: true,
    plan,
    shard: all.size === 1 ? [...all][0] : null,
    global: plan.scope === 'global',
    targets,
  };
}

/**
 * Bind one execution's slot values (slotValues()) to a plan. Never throws: a value that does not
 * give a shard (NULL, not an integer, not an order id, several shards) is a refusal.
 */
export function bind(plan: Plan, values: readonly (SqlValue | undefined)[]): BindResult {
  if (plan.kind === 'refused') return { ok: false, refusal: plan.refusal };
  try {
    if (plan.kind === 'write') return bindWrite(plan, values);
    const base: Bound = { ok: true, plan, shard: null, global: false, targets: [] };
    if (plan.kind === 'txn' && plan.autocommit !== undefined) {
      const autocommit = resolveRef(plan.autocommit, values, (v) => {
        const s =
          typeof v === 'string'
            ? v.toUpperCase()
            : typeof v === 'number' || typeof v === 'bigint'
              ? String(v)
              : '';
        if (s === '1' || s === 'ON') return true;
        if (s === '0' || s === 'OFF') return false;
        throw new BindError(
          'EZ_DENIED',
          undefined,
          `SET autocommit = ${describe(v)}: expected 0 or 1`,
          'SET autocommit to a value other than 0 or 1',
        );
      });
      return { ...base, autocommit };
    }
    if (plan.kind === 'session' && plan.charsets !== undefined) {
      const charsets = plan.charsets.map((ref) =>
        resolveRef(ref, values, (v) => {
          const cs = typeof v === 'string' ? v.toLowerCase() : '';
          if (!SAFE_CHARSETS.has(cs))
            throw new BindError(
              'EZ_DENIED',
              undefined,
              `the character set ${describe(v)}: the DAL reads statements in ${[...SAFE_CHARSETS].join(', ')} only`,
              'a character set the DAL does not read statements in',
            );
          return cs;
        }),
      );
      return { ...base, charsets };
    }
    return base;
  } catch (err) {
    if (err instanceof BindError) return { ok: false, refusal: refusal(err, plan.digest) };
    throw err;
  }
}
