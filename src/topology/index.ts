export type { FenceOverlap } from './fence-geometry.js';
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
  EDGE_SITE,
  MAX_RTT_MS,
  MAX_SHARD,
  SYSTEM_SCHEMAS,
  ZONE_ID_RE,
  ZONE_PORT_OFFSETS,
  type ZonePortKind,
} from './schema.js';
export type * from './types.js';
