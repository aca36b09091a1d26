export { loadFences, loadTopology, parseFences, parseTopology, TopologyError } from './load.js';
export { MAX_SHARD, ZONE_ID_RE, ZONE_PORT_OFFSETS, type ZonePortKind } from './schema.js';
export type * from './types.js';
