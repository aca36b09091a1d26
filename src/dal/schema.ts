// The classifier's schema from the topology: its database, and every table it names with its kind
// (sharded with the shard and order-id columns, global, local); any other table is unknown.
import type { Topology } from '../topology/index.js';
import type { DalSchema, DalTable } from './sql/index.js';

export function dalSchema(topology: Topology): DalSchema {
  const tables = new Map<string, DalTable>();
  for (const t of topology.tables)
    tables.set(t.name, {
      kind: t.kind,
      shardColumn: t.shardColumn,
      orderIdColumn: t.orderIdColumn,
      primaryKey: t.primaryKey,
    });
  // local tables are not replicated: no primary key is asked of them (the classifier needs one
  // only for REPLACE / ON DUPLICATE KEY UPDATE on sharded tables)
  for (const t of topology.localTables) tables.set(t.name, { kind: 'local', primaryKey: [] });
  return { database: topology.database, tables };
}
