// Installing and verifying DRC's objects (tables, invisible column, triggers) in a database.
import type { Connection } from 'mysql2/promise';
import {
  columnTypesQuery,
  DRC,
  installStatements,
  missingPieces,
  parseColumnTypes,
  verifyQueries,
} from './schema.js';
import type { TableSpec } from './types.js';

/**
 * Install DRC's objects over a mysql2 connection that may create triggers (root, or SUPER).
 * Idempotent. The connection must have `database` selected.
 */
export async function installDrc(
  conn: Connection,
  database: string,
  tables: readonly TableSpec[],
  where = database,
): Promise<void> {
  const [rows] = await conn.query({ sql: columnTypesQuery(database, tables), rowsAsArray: true });
  const types = parseColumnTypes(rows as [string, string, number][], tables, where);
  for (const sql of installStatements(tables, types)) await conn.query(sql);
}

/** The DRC objects `database` lacks ([] when installed). */
export async function verifyDrc(
  conn: Connection,
  database: string,
  tables: readonly TableSpec[],
): Promise<string[]> {
  const q = verifyQueries(database, tables);
  const col = async (sql: string): Promise<string[]> => {
    const [rows] = await conn.query({ sql, rowsAsArray: true });
    return (rows as string[][]).map((r) => String(r[0]));
  };
  return missingPieces(q, {
    tables: await col(q.tables),
    columns: await col(q.columns),
    triggers: await col(q.triggers),
  });
}

/**
 * Delete tombstones older than `days`, in batches of 5000, outside the binlog (the connection
 * needs BINLOG ADMIN for sql_log_bin). Returns how many went.
 */
export async function purgeOldTombstones(conn: Connection, days: number): Promise<number> {
  await conn.query('SET SESSION sql_log_bin = 0');
  let purged = 0;
  try {
    for (;;) {
      const [r] = await conn.query(
        `DELETE FROM ${DRC.tombstones} WHERE deleted_at < NOW(6) - INTERVAL ? DAY LIMIT 5000`,
        [days],
      );
      const n = (r as { affectedRows: number }).affectedRows;
      purged += n;
      if (n < 5000) return purged;
    }
  } finally {
    await conn.query('SET SESSION sql_log_bin = 1');
  }
}
