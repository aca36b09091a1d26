import type { Connection } from 'mysql2/promise';
import {
  columnTypesQuery,
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
