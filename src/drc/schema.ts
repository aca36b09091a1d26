/**
 * DRC's objects in every eZone's database, installed idempotently (out of the binlog):
 *
 * - `drc_checkpoint`, `drc_control`, `drc_conflicts`, `drc_illegal_writes`, `drc_tombstones`,
 *   `drc_heartbeat`: DRC's own tables, never replicated;
 * - on every replicated table an INVISIBLE column `drc_origin` (the server id of the eZone that
 *   wrote the row's current version) and three triggers:
 *   - BEFORE INSERT / BEFORE UPDATE set `drc_origin = @@session.server_id`: a local write gets
 *     the local id, a DRC apply (session server_id = the origin's) the origin's id. So the row
 *     always carries its origin, with zero extra binlog events.
 *   - for local writes they also keep versions increasing per key: a write whose
 *     (updated_at, local id) is not above the version it replaces (the row's, or the version
 *     deleted last) gets that updated_at + one tick (1 µs for DATETIME(6)). Without this a local
 *     write that "loses" LWW to the very row it overwrote would make the eZones diverge.
 *   - AFTER DELETE records the deleted version in `drc_tombstones` (largest one per key), so an
 *     older change arriving later cannot bring the row back.
 *
 * Triggers need SUPER (or log_bin_trust_function_creators) when the binlog is on, so the launcher
 * installs them as root (launch/kinds/drc.ts); the replicator only verifies.
 */
import mysql from 'mysql2';
import { ORIGIN_COLUMN, updatedAtKind } from '../shared/row-version.js';
import type { TableSpec } from './types.js';

export const DRC = {
  checkpoint: 'drc_checkpoint',
  control: 'drc_control',
  conflicts: 'drc_conflicts',
  illegalWrites: 'drc_illegal_writes',
  tombstones: 'drc_tombstones',
  heartbeat: 'drc_heartbeat',
} as const;

/** Written into every trigger body, for operators reading SHOW TRIGGERS (bump when the bodies change). */
export const TRIGGER_MARKER = 'ezdrc:1';

const id = (s: string): string => mysql.escapeId(s);
const str = (s: string): string => mysql.escape(s);

export const DRC_TABLES_SQL: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS ${DRC.checkpoint} (
  source_zone      VARCHAR(32)  NOT NULL,
  gtid_pos         VARCHAR(2048) NOT NULL COMMENT 'source GTID position after last_gtid (every domain)',
  last_gtid        VARCHAR(64)  NOT NULL COMMENT 'last source transaction applied',
  group_first_gtid VARCHAR(64)  NOT NULL COMMENT 'first source transaction of the last applied group',
  binlog_file      VARCHAR(255) NOT NULL,
  binlog_pos       BIGINT UNSIGNED NOT NULL,
  transactions     BIGINT UNSIGNED NOT NULL DEFAULT 0,
  applied_rows     BIGINT UNSIGNED NOT NULL DEFAULT 0,
  applied_at       DATETIME(6)  NOT NULL,
  PRIMARY KEY (source_zone)
) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS ${DRC.control} (
  source_zone  VARCHAR(32) NOT NULL,
  state        VARCHAR(16) NOT NULL,
  error        TEXT NULL,
  pending_gtid VARCHAR(64) NULL COMMENT 'the source transaction the direction stopped at',
  skip_gtid    VARCHAR(64) NULL COMMENT 'set by ezctl drc resume --skip: step over this transaction',
  updated_at   DATETIME(6) NOT NULL,
  PRIMARY KEY (source_zone)
) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS ${DRC.conflicts} (
  id               BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  detected_at      DATETIME(6)  NOT NULL,
  source_zone      VARCHAR(32)  NOT NULL,
  table_name       VARCHAR(64)  NOT NULL,
  pk               VARCHAR(255) NOT NULL,
  op               VARCHAR(8)   NOT NULL,
  reason           VARCHAR(32)  NOT NULL,
  winner           VARCHAR(8)   NOT NULL,
  incoming_version VARCHAR(64)  NOT NULL,
  current_version  VARCHAR(64)  NOT NULL,
  incoming_image   LONGTEXT NULL,
  before_image     LONGTEXT NULL,
  current_image    LONGTEXT NULL,
  source_gtid      VARCHAR(64)  NOT NULL,
  PRIMARY KEY (id),
  KEY drc_conflicts_row (table_name, pk)
) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS ${DRC.illegalWrites} (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  detected_at DATETIME(6)  NOT NULL,
  origin_zone VARCHAR(32)  NOT NULL,
  table_name  VARCHAR(64)  NOT NULL,
  pk          VARCHAR(255) NOT NULL,
  shard       INT NULL,
  owner_zone  VARCHAR(32)  NULL,
  epoch       BIGINT UNSIGNED NULL,
  source_gtid VARCHAR(64)  NOT NULL,
  written_at  DATETIME(3)  NOT NULL COMMENT 'binlog event time of the write (second resolution)',
  evidence    LONGTEXT NOT NULL,
  PRIMARY KEY (id),
  KEY drc_illegal_origin (origin_zone, detected_at)
) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS ${DRC.tombstones} (
  table_name VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  pk         VARBINARY(255) NOT NULL,
  version_at VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT 'updated_at of the deleted version (sort key)',
  origin     INT UNSIGNED NOT NULL,
  deleted_at DATETIME(6) NOT NULL,
  PRIMARY KEY (table_name, pk),
  KEY drc_tombstones_age (deleted_at)
) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS ${DRC.heartbeat} (
  source_zone VARCHAR(32) NOT NULL,
  target_zone VARCHAR(32) NOT NULL,
  ts_us       BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (source_zone, target_zone)
) ENGINE=InnoDB`,
];

/** How a table's updated_at column is stored (from information_schema). */
export interface UpdatedAtType {
  kind: 'datetime' | 'integer';
  /** fractional digits of a DATETIME/TIMESTAMP column */
  precision: number;
}

export function updatedAtTypeOf(dataType: string, precision: number | null): UpdatedAtType | null {
  const kind = updatedAtKind(dataType);
  if (kind === 'datetime') return { kind, precision: precision ?? 0 };
  return kind === 'integer' ? { kind, precision: 0 } : null;
}

/** SQL text of updated_at's sort key (matches version.ts atKey). */
const atKeySql = (expr: string, t: UpdatedAtType): string =>
  t.kind === 'integer' ? `LPAD(${expr}, 20, '0')` : `CAST(${expr} AS CHAR)`;

/** SQL of "the next version after `expr`" (one tick of the column's precision). */
const bumpSql = (expr: string, t: UpdatedAtType): string =>
  t.kind === 'integer'
    ? `${expr} + 1`
    : `${expr} + INTERVAL ${10 ** (6 - Math.min(6, t.precision))} MICROSECOND`;

const pkSql = (alias: 'NEW' | 'OLD', spec: TableSpec): string =>
  `CONCAT_WS(CHAR(31), ${spec.primaryKey.map((c) => `${alias}.${id(c)}`).join(', ')})`;

export const triggerNames = (table: string) => ({
  beforeInsert: `drc_${table}_bi`,
  beforeUpdate: `drc_${table}_bu`,
  afterDelete: `drc_${table}_ad`,
});

/** Upsert of a tombstone that keeps the largest deleted version per key (shared by trigger and applier). */
export const TOMBSTONE_UPSERT_TAIL = `ON DUPLICATE KEY UPDATE
  origin = IF((VALUES(version_at), VALUES(origin)) > (version_at, origin), VALUES(origin), origin),
  version_at = IF((VALUES(version_at), VALUES(origin)) >= (version_at, origin), VALUES(version_at), version_at),
  deleted_at = VALUES(deleted_at)`;

/** ALTER + triggers of one replicated table (each a single statement: no DELIMITER needed). */
export function tableObjectsSql(spec: TableSpec, t: UpdatedAtType): string[] {
  const tb = id(spec.name);
  const u = id(spec.updatedAt);
  const names = triggerNames(spec.name);
  const local = '@@session.server_id = @@global.server_id';
  return [
    `ALTER TABLE ${tb} ADD COLUMN IF NOT EXISTS ${id(ORIGIN_COLUMN)} INT UNSIGNED NOT NULL DEFAULT 0 INVISIBLE`,
    `CREATE OR REPLACE TRIGGER ${id(names.beforeInsert)} BEFORE INSERT ON ${tb} FOR EACH ROW
BEGIN
  -- ${TRIGGER_MARKER}: origin of this version; a local write is newer than any version deleted here
  DECLARE t_at VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin DEFAULT NULL;
  DECLARE t_origin INT UNSIGNED DEFAULT 0;
  IF ${local} THEN
    SET t_at = (SELECT version_at FROM ${DRC.tombstones} WHERE table_name = ${str(spec.name)} AND pk = ${pkSql('NEW', spec)});
    IF t_at IS NOT NULL THEN
      SET t_origin = (SELECT origin FROM ${DRC.tombstones} WHERE table_name = ${str(spec.name)} AND pk = ${pkSql('NEW', spec)});
      IF (BINARY ${atKeySql(`NEW.${u}`, t)}, @@global.server_id) <= (BINARY t_at, t_origin) THEN
        SET NEW.${u} = ${bumpSql(t.kind === 'integer' ? 'CAST(t_at AS UNSIGNED)' : `CAST(t_at AS DATETIME(${t.precision}))`, t)};
      END IF;
    END IF;
  END IF;
  SET NEW.${id(ORIGIN_COLUMN)} = @@session.server_id;
END`,
    `CREATE OR REPLACE TRIGGER ${id(names.beforeUpdate)} BEFORE UPDATE ON ${tb} FOR EACH ROW
BEGIN
  -- ${TRIGGER_MARKER}: origin of this version; a local write is newer than the version it replaces
  IF ${local} AND (NEW.${u}, @@global.server_id) <= (OLD.${u}, OLD.${id(ORIGIN_COLUMN)}) THEN
    SET NEW.${u} = ${bumpSql(`OLD.${u}`, t)};
  END IF;
  SET NEW.${id(ORIGIN_COLUMN)} = @@session.server_id;
END`,
    `CREATE OR REPLACE TRIGGER ${id(names.afterDelete)} AFTER DELETE ON ${tb} FOR EACH ROW
BEGIN
  -- ${TRIGGER_MARKER}: remember the deleted version
  INSERT INTO ${DRC.tombstones} (table_name, pk, version_at, origin, deleted_at)
  VALUES (${str(spec.name)}, ${pkSql('OLD', spec)}, ${atKeySql(`OLD.${u}`, t)}, OLD.${id(ORIGIN_COLUMN)}, NOW(6))
  ${TOMBSTONE_UPSERT_TAIL};
END`,
  ];
}

/** Every statement of an install, in order (sql_log_bin=0 first: DRC's objects stay out of the binlog). */
export function installStatements(
  tables: readonly TableSpec[],
  types: ReadonlyMap<string, UpdatedAtType>,
): string[] {
  const out = [
    'SET SESSION sql_log_bin = 0',
    // one installer at a time (two replicators into one eZone start together)
    "DO GET_LOCK('ezdrc_install', 60)",
    ...DRC_TABLES_SQL,
  ];
  for (const spec of tables) out.push(...tableObjectsSql(spec, types.get(spec.name)!));
  out.push("DO RELEASE_LOCK('ezdrc_install')");
  return out;
}

/** The same install as a script for the `mariadb` client (DELIMITER around the trigger bodies). */
export function installScript(
  database: string,
  tables: readonly TableSpec[],
  types: ReadonlyMap<string, UpdatedAtType>,
): string {
  const lines = [`USE ${id(database)};`, 'DELIMITER ;;'];
  for (const s of installStatements(tables, types)) lines.push(`${s};;`);
  lines.push('DELIMITER ;', '');
  return lines.join('\n');
}

/** information_schema query for the updated_at column of every replicated table (text output: name, type, precision). */
export function columnTypesQuery(database: string, tables: readonly TableSpec[]): string {
  const pairs = tables.map((t) => `(${str(t.name)}, ${str(t.updatedAt)})`).join(', ');
  return `SELECT TABLE_NAME, DATA_TYPE, IFNULL(DATETIME_PRECISION, 0) FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = ${str(database)} AND (TABLE_NAME, COLUMN_NAME) IN (${pairs})`;
}

/** Types per table from rows of columnTypesQuery; throws naming a missing table or an unusable column. */
export function parseColumnTypes(
  rows: readonly (readonly [string, string, number | string])[],
  tables: readonly TableSpec[],
  where: string,
): Map<string, UpdatedAtType> {
  const types = new Map<string, UpdatedAtType>();
  for (const [table, dataType, precision] of rows) {
    const t = updatedAtTypeOf(String(dataType), Number(precision));
    if (t) types.set(String(table), t);
    else {
      throw new Error(
        `${where}: ${table}: updated_at column has type ${dataType}; DRC needs DATETIME(6) or BIGINT (µs)`,
      );
    }
  }
  for (const t of tables) {
    if (!types.has(t.name))
      throw new Error(
        `${where}: table ${t.name} (or its column ${t.updatedAt}) does not exist; create the schema before DRC starts`,
      );
  }
  return types;
}

/** What an install must have: used by the replicator to refuse a target without DRC's objects. */
export const verifyQueries = (database: string, tables: readonly TableSpec[]) => ({
  tables: `SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ${str(database)} AND TABLE_NAME IN (${Object.values(
    DRC,
  )
    .map(str)
    .join(', ')})`,
  columns: `SELECT TABLE_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ${str(database)} AND COLUMN_NAME = ${str(ORIGIN_COLUMN)}`,
  // names only: ACTION_STATEMENT is empty for an account without the TRIGGER privilege (the applier)
  triggers: `SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ${str(database)}`,
  expected: {
    tables: Object.values(DRC) as string[],
    columns: tables.map((t) => t.name),
    triggers: tables.flatMap((t) => Object.values(triggerNames(t.name))),
  },
});

/** The pieces an install lacks, from the results of verifyQueries (empty: installed). */
export function missingPieces(
  q: ReturnType<typeof verifyQueries>,
  found: { tables: string[]; columns: string[]; triggers: string[] },
): string[] {
  const missing: string[] = [];
  for (const t of q.expected.tables) if (!found.tables.includes(t)) missing.push(`table ${t}`);
  for (const t of q.expected.columns)
    if (!found.columns.includes(t)) missing.push(`column ${t}.${ORIGIN_COLUMN}`);
  for (const t of q.expected.triggers) if (!found.triggers.includes(t)) missing.push(`trigger ${t}`);
  return missing;
}
