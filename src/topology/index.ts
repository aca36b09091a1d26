// The topology (DESIGN §1, docs/topology.md): the file that describes a cluster, loaded and checked,
// and what follows from it (the paths between sites, their links). Every part imports from here.
export type { FenceOverlap } from './fence-geometry.js';
export { writeFreePortTopology } from './free-ports.js';
export {
  DEFAULT_REMOTE_DIR,
  hasRemoteHosts,
  hostAddress,
  hostEntry,
  leavesLoopback,
  partAddress,
} from './hosts.js';
export * from './links.js';
export {
  defaultSchemaPath,
  FENCES_MAX_BYTES,
  type FenceOptions,
  loadFences,
  loadTopology,
  parseFences,
  parseTopology,
  SCHEMA_MAX_BYTES,
  TOPOLOGY_MAX_BYTES,
  TopologyError,
  YAML_MAX_ALIAS_COUNT,
} from './load.js';
export { rttBetween } from './network.js';
export {
  checkDirection,
  directions,
  drcInstanceName,
  drcPort,
  invalidatorInstanceName,
  serverIdOf,
  zoneOfServerId,
} from './processes.js';
export {
  EDGE_SITE,
  LOCAL_HOST,
  MAX_RTT_MS,
  MAX_SHARD,
  ShardId as ShardIdSchema,
  SYSTEM_SCHEMAS,
  ZONE_ID_RE,
  ZONE_PORT_OFFSETS,
  ZoneId as ZoneIdSchema,
  type ZonePortKind,
} from './schema.js';
export type * from './types.js';
export { ZONE_PARTS } from './types.js';
export { checkZone, unknownZoneError } from './zones.js';
