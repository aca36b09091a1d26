// DRC's own ids derived from the topology: binlog reader server ids and the replicated tables'
// specs. The names and ports of its processes are the topology's (src/topology/processes.ts).
import type { Topology } from '../topology/index.js';

export {
  checkDirection,
  directions,
  drcInstanceName,
  drcPort,
  invalidatorInstanceName,
  serverIdOf,
  zoneOfServerId,
} from '../topology/index.js';

import type { TableSpec } from './types.js';

/**
 * Replica server id of a binlog reader: unique per reader and source (a duplicate kicks the other
 * reader off, errno 4052), stable across restarts, and far from eZone server ids (high bit set).
 * FNV-1a of the reader's name.
 */
export function readerServerId(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h | 0x80000000) >>> 0;
}

export const tableSpecs = (topology: Topology): Map<string, TableSpec> =>
  new Map(topology.tables.map((t) => [t.name, { ...t, primaryKey: [...t.primaryKey] }]));
