// The topology (DESIGN §1, docs/topology.md): the file that describes a cluster, loaded and checked,
// and what follows from it (the paths between sites, their links). Every part imports from here.
export * from './links.js';
export { loadFences, loadTopology, parseFences, parseTopology, TopologyError } from './load.js';
export {
  MAX_SHARD,
  ShardId as ShardIdSchema,
  ZONE_ID_RE,
  ZONE_PORT_OFFSETS,
  ZoneId as ZoneIdSchema,
  type ZonePortKind,
} from './schema.js';
export type * from './types.js';
export { checkZone, unknownZoneError } from './zones.js';
