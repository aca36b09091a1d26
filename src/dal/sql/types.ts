// The statement classifier's vocabulary: the schema it is given, the plan it answers with, and the
// refusals (DESIGN §4 code words) the proxy sends back as MySQL errors.
import type { Hint } from './lexer.js';

export type TableKind = 'sharded' | 'global' | 'local';

export interface DalTable {
  kind: TableKind;
  /** the column holding the shard id (e.g. orders.shard_id) */
  shardColumn?: string;
  /** a column holding an order id, whose shard follows from the id (DESIGN §2; e.g. orders.id) */
  orderIdColumn?: string;
  primaryKey: readonly string[];
}

/** The tables of the topology's database. A table not in the map is *unknown*. */
export interface DalSchema {
  /** the topology's database; tables of any other database are unknown */
  database: string;
  /** by exact name: table names are case-sensitive in MariaDB (lower_case_table_names=0) */
  tables: ReadonlyMap<string, DalTable>;
}

/**
 * Code words of refusals: DESIGN §4's, plus `EZ_DENIED` for a statement the DAL does not let
 * through at all ("deny unknown": cannot classify it, or it is never allowed through the DAL).
 */
export type RefusalCode = 'EZ_NO_SHARD_KEY' | 'EZ_UNKNOWN_TABLE' | 'EZ_DDL_REFUSED' | 'EZ_DENIED';
export const EZ_DENIED = 'EZ_DENIED';

export interface Refusal {
  code: RefusalCode;
  /** the table concerned (db-qualified when not the topology's database) */
  table?: string;
  /**
   * For the client (the MySQL error message): starts with the code word and `table=T`, then what
   * was wrong and what is expected. May quote a value the client itself sent (bind refusals).
   */
  message: string;
  /** the same without any literal value of the statement: safe to log */
  reason: string;
  /** the statement's digest (no literals): for logs and metrics */
  digest: string;
}

/** Where a sharded table's shard comes from: literal positions (slots) bound at execution. */
export type ShardSource =
  /** the value at `slot` is a shard id (key 'shard') or an order id whose shard it embeds (key 'order') */
  | { op: 'value'; slot: number; key: 'shard' | 'order'; column: string }
  /** every one holds (AND; the key columns of one INSERT row): the shards they share */
  | { op: 'all'; of: readonly ShardSource[] }
  /** any one holds (OR, IN, the rows of an INSERT): the union of their shards */
  | { op: 'any'; of: readonly ShardSource[] };

/** An assignment of a shard-key column (UPDATE SET, ON DUPLICATE KEY UPDATE): must keep the shard. */
export interface KeyAssignment {
  slot: number;
  key: 'shard' | 'order';
  column: string;
}

export type WriteTarget =
  | { table: string; kind: 'sharded'; source: ShardSource; assigns: readonly KeyAssignment[] }
  | { table: string; kind: 'global' }
  | { table: string; kind: 'local' };

interface PlanBase {
  digest: string;
  hints: readonly Hint[];
}

/** Passes through: SELECT without a locking clause, SHOW, EXPLAIN, DESCRIBE, HELP, VALUES. */
export interface ReadPlan extends PlanBase {
  kind: 'read';
  /** the leading keyword (WITH for a CTE whose statement is a SELECT) */
  statement: string;
}

/**
 * A write, or a locking read (SELECT … FOR UPDATE / LOCK IN SHARE MODE), on the tables it names.
 * `scope`: 'shard' — bind() gives the one shard the proxy must check (checkWrite); 'global' — a
 * Global-Zone write, to be sent to the master eZone; 'local' — local tables only, allowed here.
 */
export interface WritePlan extends PlanBase {
  kind: 'write';
  statement: 'INSERT' | 'REPLACE' | 'UPDATE' | 'DELETE' | 'SELECT' | 'LOAD DATA';
  lockingRead: boolean;
  scope: 'shard' | 'global' | 'local';
  targets: readonly WriteTarget[];
}

/** DDL the DAL lets through: on local tables, or on replicated ones with `/*ez:allow-ddl*\/`. */
export interface DdlPlan extends PlanBase {
  kind: 'ddl';
  /** e.g. 'ALTER TABLE', 'CREATE INDEX' */
  statement: string;
  tables: readonly { table: string; kind: TableKind }[];
  /** allowed only because of `/*ez:allow-ddl*\/` (a replicated table is among `tables`) */
  override: boolean;
}

/** A value known from the text, or one to take from a slot at bind(). */
export type ValueRef<T> = { value: T } | { slot: number };

/** Transaction control: the proxy tracks transactions with these (DESIGN §6 step 1). */
export interface TxnPlan extends PlanBase {
  kind: 'txn';
  action:
    | 'begin'
    | 'commit'
    | 'rollback'
    | 'savepoint'
    | 'rollback-to-savepoint'
    | 'release-savepoint'
    | 'autocommit';
  /** begin: START TRANSACTION READ ONLY */
  readOnly?: boolean;
  /** commit/rollback: AND CHAIN (a new transaction starts at once) */
  chain?: boolean;
  /** commit/rollback: RELEASE (the server closes the connection) */
  release?: boolean;
  savepoint?: string;
  /** autocommit: the new value (bind() resolves a slot) */
  autocommit?: ValueRef<boolean>;
}

/** Session statements the DAL allows: SET (session scope), USE, UNLOCK TABLES. */
export interface SessionPlan extends PlanBase {
  kind: 'session';
  statement: 'SET' | 'USE' | 'UNLOCK TABLES';
  /** USE: the session's database from now on (pass it back as `database` to classify) */
  use?: string;
  /** SET NAMES / CHARACTER SET / character_set_client: the charset the client will send in */
  charsets?: readonly ValueRef<string>[];
  /** SET …: the variables set, lower-case, `@name` for user variables */
  variables?: readonly string[];
}

export interface RefusedPlan extends PlanBase {
  kind: 'refused';
  refusal: Refusal;
}

export type Plan = ReadPlan | WritePlan | DdlPlan | TxnPlan | SessionPlan | RefusedPlan;
