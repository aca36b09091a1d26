/**
 * Applies groups of source transactions in the target eZone, each group in ONE target
 * transaction together with the checkpoint row (DESIGN §5): read the touched rows and tombstones
 * `FOR UPDATE` in one round trip, decide last-writer-wins in memory (resolve.ts), write with
 * multi-row statements plus the ledgers and the checkpoint, COMMIT — a second round trip.
 *
 * The session is stamped with the origin's identity (`server_id` and `gtid_domain_id` = the
 * source eZone's server id), so the target's binlog records the applied changes as the source's
 * and the reverse replicator never sends them back (ENVIRONMENT.md: loop prevention).
 */
import mysql from 'mysql2';
import type { Connection } from 'mysql2/promise';
import { createConnection } from 'mysql2/promise';
import { atKey, ORIGIN_COLUMN, pkKey, type Row, type Version } from '../shared/row-version.js';
import { type IllegalWrite, judgeWrites, type OwnershipSource } from './ownership.js';
import { type Conflict, type GroupOutcome, keysOf, resolveGroup, type TargetRows } from './resolve.js';
import { DRC, TOMBSTONE_UPSERT_TAIL } from './schema.js';
import type { SourcePosition, SourceTxn, TableSpec } from './types.js';

export interface ApplierOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  sourceZone: string;
  targetZone: string;
  /** the source eZone's server id: the applier session's server_id and gtid_domain_id */
  originServerId: number;
  tables: ReadonlyMap<string, TableSpec>;
  ownership?: OwnershipSource;
  connectTimeoutMs?: number;
}

export interface Checkpoint extends SourcePosition {
  groupFirstGtid: string;
  transactions: number;
  appliedRows: number;
  appliedAt: string;
}

export interface ControlRow {
  state: string;
  error: string | null;
  pendingGtid: string | null;
  skipGtid: string | null;
}

export interface ApplyResult {
  outcome: GroupOutcome | null;
  illegal: IllegalWrite[];
  /** row changes the audit could not judge (ownership unknown at their time) */
  unjudged: number;
  /** SQL statements in the write round trip (0: its result was lost but the checkpoint shows it committed) */
  statements: number;
  /** ms spent: reading the current rows, writing + commit */
  readMs: number;
  writeMs: number;
  /** deadlock retries this group needed */
  retries: number;
}

const NUMERIC = new Set([
  'tinyint',
  'smallint',
  'mediumint',
  'int',
  'integer',
  'bigint',
  'decimal',
  'float',
  'double',
  'year',
]);
const NUMBER_TEXT = /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i;
const RETRYABLE = new Set([1213 /* deadlock */, 1205 /* lock wait timeout */]);

const id = (s: string): string => mysql.escapeId(s);

/** A SQL literal; integers stay unquoted so comparisons with BIGINT keys are exact (not via DOUBLE). */
export function literal(value: unknown, numeric: boolean): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (numeric && typeof value === 'string' && NUMBER_TEXT.test(value)) return value;
  if (typeof value === 'object' && !Buffer.isBuffer(value)) return mysql.escape(JSON.stringify(value));
  return mysql.escape(value as string);
}

const json = (r: Row | null): string | null =>
  r === null ? null : JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? String(v) : v)).slice(0, 65_000);

export class Applier {
  private conn: Connection | null = null;
  /** table → column → numeric? (information_schema, read at connect) */
  private numeric = new Map<string, Map<string, boolean>>();

  constructor(private readonly o: ApplierOptions) {}

  async connect(): Promise<void> {
    const o = this.o;
    this.conn = await createConnection({
      host: o.host,
      port: o.port,
      user: o.user,
      password: o.password,
      database: o.database,
      multipleStatements: true,
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      connectTimeout: o.connectTimeoutMs ?? 5000,
    });
    this.conn.on('error', () => undefined); // surfaced by the next query
    await this.conn.query(
      `SET SESSION server_id = ${o.originServerId}, gtid_domain_id = ${o.originServerId}, ` +
        "tx_isolation = 'REPEATABLE-READ', innodb_lock_wait_timeout = 10",
    );
    const names = [...o.tables.keys()].map((t) => mysql.escape(t)).join(', ');
    const [cols] = await this.conn.query({
      sql: `SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (${names})`,
      values: [o.database],
      rowsAsArray: true,
    });
    this.numeric = new Map();
    for (const [t, c, type] of cols as string[][]) {
      if (!this.numeric.has(t)) this.numeric.set(t, new Map());
      this.numeric.get(t)!.set(c, NUMERIC.has(String(type).toLowerCase()));
    }
  }

  get connection(): Connection {
    if (!this.conn) throw new Error('applier: not connected');
    return this.conn;
  }

  async close(): Promise<void> {
    const c = this.conn;
    this.conn = null;
    if (!c) return;
    await Promise.race([c.end().catch(() => c.destroy()), new Promise((r) => setTimeout(r, 1000))]);
    c.destroy();
  }

  async readCheckpoint(): Promise<Checkpoint | null> {
    const [rows] = await this.connection.query(
      `SELECT gtid_pos, last_gtid, group_first_gtid, binlog_file, binlog_pos, transactions, applied_rows, applied_at FROM ${DRC.checkpoint} WHERE source_zone = ?`,
      [this.o.sourceZone],
    );
    const r = (rows as Row[])[0];
    if (!r) return null;
    return {
      gtidPos: String(r.gtid_pos),
      lastGtid: String(r.last_gtid),
      groupFirstGtid: String(r.group_first_gtid),
      file: String(r.binlog_file),
      pos: Number(r.binlog_pos),
      transactions: Number(r.transactions),
      appliedRows: Number(r.applied_rows),
      appliedAt: String(r.applied_at),
    };
  }

  async readControl(): Promise<ControlRow | null> {
    const [rows] = await this.connection.query(
      `SELECT state, error, pending_gtid, skip_gtid FROM ${DRC.control} WHERE source_zone = ?`,
      [this.o.sourceZone],
    );
    const r = (rows as Row[])[0];
    if (!r) return null;
    return {
      state: String(r.state),
      error: (r.error as string) ?? null,
      pendingGtid: (r.pending_gtid as string) ?? null,
      skipGtid: (r.skip_gtid as string) ?? null,
    };
  }

  /** DRC-internal bookkeeping stays out of the binlog (the session may toggle it between transactions). */
  async writeControl(state: string, error: string | null, pendingGtid: string | null): Promise<void> {
    await this.connection.query(
      `SET SESSION sql_log_bin = 0;
INSERT INTO ${DRC.control} (source_zone, state, error, pending_gtid, skip_gtid, updated_at) VALUES (?, ?, ?, ?, NULL, NOW(6))
ON DUPLICATE KEY UPDATE state = VALUES(state), error = VALUES(error), pending_gtid = VALUES(pending_gtid),
  skip_gtid = IF(VALUES(state) = 'running', NULL, skip_gtid), updated_at = VALUES(updated_at);
SET SESSION sql_log_bin = 1`,
      [this.o.sourceZone, state, error, pendingGtid],
    );
  }

  private isNumeric(table: string, column: string): boolean {
    return this.numeric.get(table)?.get(column) ?? false;
  }

  private pkWhere(spec: TableSpec, rows: Iterable<Row>): string {
    const lits: string[] = [];
    for (const r of rows) {
      const vals = spec.primaryKey.map((c) => literal(r[c], this.isNumeric(spec.name, c)));
      lits.push(vals.length === 1 ? vals[0] : `(${vals.join(', ')})`);
    }
    const cols =
      spec.primaryKey.length === 1 ? id(spec.primaryKey[0]) : `(${spec.primaryKey.map(id).join(', ')})`;
    return `${cols} IN (${lits.join(', ')})`;
  }

  /**
   * Apply `group` (whole source transactions, in source order) and move the checkpoint to the
   * position after its last transaction, atomically. `groupFirstGtid` names the first source
   * transaction since the previous checkpoint (evidence for audits: groups tile the source).
   *
   * Pipelining: `target` is the group's rows when a previous call already read them (its
   * `nextTarget`); `next` is the group that follows: its rows are read FOR UPDATE in the same
   * round trip as this group's COMMIT (a new transaction), so a busy replicator needs one round
   * trip per group instead of two.
   */
  async apply(
    group: readonly SourceTxn[],
    groupFirstGtid: string,
    opts: { target?: TargetRows; next?: readonly SourceTxn[] } = {},
  ): Promise<ApplyResult & { nextTarget?: TargetRows }> {
    const conn = this.connection;
    const o = this.o;
    const last = group[group.length - 1];
    const rows = group.reduce((n, t) => n + t.changes.length, 0);
    const illegal: IllegalWrite[] = [];
    let unjudged = 0;
    if (o.ownership) {
      for (const t of group) {
        if (t.changes.length === 0) continue;
        const v = judgeWrites(t, o.sourceZone, o.tables, o.ownership);
        illegal.push(...v.illegal);
        unjudged += v.unjudged;
      }
    }
    const checkpointSql = `INSERT INTO ${DRC.checkpoint}
  (source_zone, gtid_pos, last_gtid, group_first_gtid, binlog_file, binlog_pos, transactions, applied_rows, applied_at)
VALUES (${mysql.escape(o.sourceZone)}, ${mysql.escape(last.position.gtidPos)}, ${mysql.escape(last.position.lastGtid)},
  ${mysql.escape(groupFirstGtid)}, ${mysql.escape(last.position.file)}, ${Number(last.position.pos) || 0}, ${group.length}, ${rows}, NOW(6))
ON DUPLICATE KEY UPDATE gtid_pos = VALUES(gtid_pos), last_gtid = VALUES(last_gtid), group_first_gtid = VALUES(group_first_gtid),
  binlog_file = VALUES(binlog_file), binlog_pos = VALUES(binlog_pos), transactions = transactions + VALUES(transactions),
  applied_rows = applied_rows + VALUES(applied_rows), applied_at = VALUES(applied_at)`;

    if (rows === 0) {
      // nothing to resolve: the checkpoint alone (autocommit)
      const t0 = performance.now();
      await conn.query(checkpointSql);
      return {
        outcome: null,
        illegal,
        unjudged,
        statements: 1,
        readMs: 0,
        writeMs: performance.now() - t0,
        retries: 0,
      };
    }

    const keys = keysOf(group, o.tables);
    const nextRead = opts.next ? this.readStatements(keysOf(opts.next, o.tables)) : null;
    for (let attempt = 0; ; attempt++) {
      let outcome: GroupOutcome | null = null;
      try {
        const t0 = performance.now();
        const target = attempt === 0 && opts.target ? opts.target : await this.readTarget(keys);
        const t1 = performance.now();
        outcome = resolveGroup(group, o.tables, target);
        const sql = [
          ...this.writeStatements(outcome),
          ...this.ledgerStatements(outcome.conflicts, illegal),
          checkpointSql,
          'COMMIT',
          ...(nextRead?.stmts ?? []),
        ];
        const [results] = await conn.query(sql.join(';\n'));
        const sets = results as unknown as Row[][];
        return {
          outcome,
          illegal,
          unjudged,
          statements: sql.length,
          readMs: t1 - t0,
          writeMs: performance.now() - t1,
          retries: attempt,
          nextTarget: nextRead ? nextRead.parse(sets.slice(sets.length - nextRead.stmts.length)) : undefined,
        };
      } catch (err) {
        await conn.query('ROLLBACK').catch(() => undefined);
        // the error may have come from the next group's read, after this group's COMMIT
        if (outcome && nextRead && (await this.checkpointIs(last.position.lastGtid)))
          return { outcome, illegal, unjudged, statements: 0, readMs: 0, writeMs: 0, retries: attempt };
        if (attempt < 5 && RETRYABLE.has((err as { errno?: number }).errno ?? 0)) continue;
        throw err;
      }
    }
  }

  /** Did the last applied group end at `lastGtid`? (after an error whose statement is unknown) */
  private async checkpointIs(lastGtid: string): Promise<boolean> {
    const [rows] = await this.connection.query(
      `SELECT last_gtid FROM ${DRC.checkpoint} WHERE source_zone = ?`,
      [this.o.sourceZone],
    );
    return (rows as Row[])[0]?.last_gtid === lastGtid;
  }

  /** START TRANSACTION + the group's rows and tombstones FOR UPDATE, in one round trip. */
  private async readTarget(keys: Map<string, Map<string, Row>>): Promise<TargetRows> {
    const read = this.readStatements(keys);
    const [results] = await this.connection.query(read.stmts.join(';\n'));
    return read.parse(results as unknown as Row[][]);
  }

  private readStatements(keys: Map<string, Map<string, Row>>): {
    stmts: string[];
    parse(sets: Row[][]): TargetRows;
  } {
    const specs = [...keys.keys()].map((t) => this.o.tables.get(t)!);
    const stmts = ['START TRANSACTION'];
    for (const spec of specs) {
      stmts.push(
        `SELECT *, ${id(ORIGIN_COLUMN)} FROM ${id(spec.name)} WHERE ${this.pkWhere(spec, keys.get(spec.name)!.values())} FOR UPDATE`,
      );
    }
    const tombKeys: string[] = [];
    for (const spec of specs) {
      for (const pk of keys.get(spec.name)!.keys())
        tombKeys.push(`(${mysql.escape(spec.name)}, ${mysql.escape(pk)})`);
    }
    stmts.push(
      `SELECT table_name, CAST(pk AS CHAR) AS pk, version_at, origin FROM ${DRC.tombstones} WHERE (table_name, pk) IN (${tombKeys.join(', ')}) FOR UPDATE`,
    );
    const parse = (sets: Row[][]): TargetRows => {
      const current = new Map<string, Map<string, Row>>();
      specs.forEach((spec, i) => {
        const m = new Map<string, Row>();
        for (const r of sets[i + 1]) m.set(pkKey(r, spec.primaryKey), r);
        current.set(spec.name, m);
      });
      const tombstones = new Map<string, Map<string, Version>>();
      for (const r of sets[specs.length + 1]) {
        const t = String(r.table_name);
        if (!tombstones.has(t)) tombstones.set(t, new Map());
        tombstones.get(t)!.set(String(r.pk), { at: String(r.version_at), origin: Number(r.origin) });
      }
      return { current, tombstones };
    };
    return { stmts, parse };
  }

  private writeStatements(out: GroupOutcome): string[] {
    const stmts: string[] = [];
    for (const [table, byPk] of out.deletes) {
      const spec = this.o.tables.get(table)!;
      stmts.push(`DELETE FROM ${id(table)} WHERE ${this.pkWhere(spec, byPk.values())}`);
    }
    for (const [table, byPk] of out.upserts) {
      const spec = this.o.tables.get(table)!;
      const rows = [...byPk.values()];
      // the trigger sets drc_origin from the session (= the source eZone)
      const cols = Object.keys(rows[0]).filter((c) => c !== ORIGIN_COLUMN);
      const numeric = cols.map((c) => this.isNumeric(table, c));
      const values = rows.map((r) => `(${cols.map((c, i) => literal(r[c], numeric[i])).join(', ')})`);
      const updates = cols
        .filter((c) => !spec.primaryKey.includes(c))
        .map((c) => `${id(c)} = VALUES(${id(c)})`);
      stmts.push(
        `INSERT INTO ${id(table)} (${cols.map(id).join(', ')}) VALUES ${values.join(', ')}` +
          (updates.length > 0 ? ` ON DUPLICATE KEY UPDATE ${updates.join(', ')}` : ''),
      );
    }
    const tombs: string[] = [];
    for (const [table, byPk] of out.tombstones) {
      for (const [pk, t] of byPk) {
        tombs.push(
          `(${mysql.escape(table)}, ${mysql.escape(pk)}, ${mysql.escape(atKey(t.version.at))}, ${t.version.origin}, NOW(6))`,
        );
      }
    }
    if (tombs.length > 0) {
      stmts.push(
        `INSERT INTO ${DRC.tombstones} (table_name, pk, version_at, origin, deleted_at) VALUES ${tombs.join(', ')} ${TOMBSTONE_UPSERT_TAIL}`,
      );
    }
    return stmts;
  }

  private ledgerStatements(conflicts: readonly Conflict[], illegal: readonly IllegalWrite[]): string[] {
    const stmts: string[] = [];
    const src = mysql.escape(this.o.sourceZone);
    if (conflicts.length > 0) {
      const values = conflicts.map(
        (c) =>
          `(NOW(6), ${src}, ${mysql.escape(c.table)}, ${mysql.escape(c.pk)}, '${c.op}', '${c.reason}', '${c.winner}', ` +
          `${mysql.escape(c.incomingVersion)}, ${mysql.escape(c.currentVersion)}, ${mysql.escape(json(c.incoming))}, ` +
          `${mysql.escape(json(c.before))}, ${mysql.escape(json(c.current))}, ${mysql.escape(c.gtid)})`,
      );
      stmts.push(
        `INSERT INTO ${DRC.conflicts} (detected_at, source_zone, table_name, pk, op, reason, winner, incoming_version, current_version, incoming_image, before_image, current_image, source_gtid) VALUES ${values.join(', ')}`,
      );
    }
    if (illegal.length > 0) {
      const values = illegal.map(
        (w) =>
          `(NOW(6), ${mysql.escape(w.origin)}, ${mysql.escape(w.table)}, ${mysql.escape(w.pk)}, ${w.shard ?? 'NULL'}, ` +
          `${mysql.escape(w.owner)}, ${w.epoch ?? 'NULL'}, ${mysql.escape(w.gtid)}, FROM_UNIXTIME(${(w.tsMs / 1000).toFixed(3)}), ` +
          `${mysql.escape(JSON.stringify(w.evidence))})`,
      );
      stmts.push(
        `INSERT INTO ${DRC.illegalWrites} (detected_at, origin_zone, table_name, pk, shard, owner_zone, epoch, source_gtid, written_at, evidence) VALUES ${values.join(', ')}`,
      );
    }
    return stmts;
  }
}
