/**
 * Row-by-row digests of replicated tables (DESIGN §7.2: "identical in every eZone, row-by-row
 * checksum"), and the comparison that names the first rows where two eZones differ.
 */
import { createHash } from 'node:crypto';
import mysql, { type Connection, type ConnectionOptions } from 'mysql2/promise';
import type { Table, Topology } from '../../src/topology/index.js';

export interface TableDigest {
  rows: number;
  /** sha256 of every row's JSON, one a line, in primary-key order */
  sha: string;
  /** those lines (only when asked for: tests print them to show a difference) */
  text: string;
  /** primary key → hash of the row, in primary-key order: finds the rows that differ */
  rowHashes: Map<string, string>;
}

/** The options a digest read needs: dates and big numbers as the server prints them. */
export const digestConnection = (opts: ConnectionOptions): ConnectionOptions => ({
  ...opts,
  dateStrings: true,
  supportBigNumbers: true,
  bigNumberStrings: true,
});

const primaryKeyOf = (spec: Pick<Table, 'primaryKey'>, row: Record<string, unknown>): string =>
  spec.primaryKey.length === 1
    ? String(row[spec.primaryKey[0]])
    : JSON.stringify(spec.primaryKey.map((k) => row[k]));

/**
 * Read a table (visible columns and drc_origin, which DRC's last-writer-wins compares too) in
 * primary-key order over `conn` (made with digestConnection). `onRow` sees every row as read.
 */
export async function readTableDigest(
  conn: Connection,
  spec: Pick<Table, 'name' | 'primaryKey'>,
  opts: { keepText?: boolean; timeoutMs?: number; onRow?: (row: Record<string, unknown>) => void } = {},
): Promise<TableDigest> {
  const [rows] = await conn.query({
    sql: `SELECT *, drc_origin FROM ${mysql.escapeId(spec.name)} ORDER BY ${spec.primaryKey.map((k) => mysql.escapeId(k)).join(', ')}`,
    timeout: opts.timeoutMs,
  });
  return digestRows(spec, rows as Record<string, unknown>[], opts);
}

/** The digest of rows already in primary-key order (the same bytes whatever read them). */
export function digestRows(
  spec: Pick<Table, 'primaryKey'>,
  rows: Record<string, unknown>[],
  opts: { keepText?: boolean; onRow?: (row: Record<string, unknown>) => void } = {},
): TableDigest {
  const whole = createHash('sha256');
  const rowHashes = new Map<string, string>();
  const lines: string[] = [];
  rows.forEach((r, i) => {
    opts.onRow?.(r);
    const line = JSON.stringify(r);
    whole.update(i === 0 ? line : `\n${line}`); // = sha256 of the lines joined by \n
    if (opts.keepText) lines.push(line);
    rowHashes.set(primaryKeyOf(spec, r), createHash('sha256').update(line).digest('hex').slice(0, 16));
  });
  return { rows: rows.length, sha: whole.digest('hex'), text: lines.join('\n'), rowHashes };
}

/** A row-by-row digest of one table of `topology` (one connection, closed after). */
export async function digestTable(
  opts: ConnectionOptions,
  topology: Topology,
  table: string,
): Promise<TableDigest> {
  const spec = topology.tables.find((t) => t.name === table);
  if (!spec) throw new Error(`table ${table} is not a replicated table of ${topology.file}`);
  const c = await mysql.createConnection(digestConnection(opts));
  try {
    return await readTableDigest(c, spec, { keepText: true });
  } finally {
    await c.end();
  }
}

/**
 * Compare one table's digests across eZones: whether they are identical and, when not, the first
 * primary keys (in the first eZone's key order, then the others') whose row is missing somewhere
 * or differs, at most `max`; `more` counts the rest.
 */
export function compareDigests(
  byZone: Record<string, Pick<TableDigest, 'sha' | 'rowHashes'>>,
  max = 5,
): { same: boolean; differing: string[]; more: number } {
  const digests = Object.values(byZone);
  if (digests.every((d) => d.sha === digests[0].sha)) return { same: true, differing: [], more: 0 };
  const differing: string[] = [];
  let more = 0;
  const seen = new Set<string>();
  for (const d of digests) {
    for (const [pk, hash] of d.rowHashes) {
      if (seen.has(pk)) continue;
      seen.add(pk);
      if (digests.every((o) => o.rowHashes.get(pk) === hash)) continue;
      if (differing.length < max) differing.push(pk);
      else more++;
    }
  }
  return { same: false, differing, more };
}
