// The routing core (DESIGN §2–§3): pure, no I/O. Every part that routes imports from here.
export { quote, RouteError } from './errors.js';
export {
  DEFAULT_CELL_DEG,
  FenceIndex,
  type FenceIndexOptions,
  type FenceIndexStats,
  pointInFence,
} from './fence-index.js';
export { formatDecision } from './format.js';
export {
  checkWrite,
  orderLockOf,
  shardOrderLockOf,
  type WriteAllowed,
  type WriteRefused,
  type WriteVerdict,
} from './guard.js';
export {
  decodeOrderId,
  encodeOrderId,
  MAX_ORDER_ID,
  MAX_SEQUENCE,
  ORDER_ID_EPOCH_MS,
  type OrderIdFields,
  OrderIdGenerator,
  orderIdProblem,
  shardOfOrderId,
  shardOfValidOrderId,
} from './order-id.js';
export {
  type LayerOutcome,
  type ResolveOptions,
  Resolver,
  type RouteDecision,
  type RouteLayer,
  resolveRoute,
} from './resolve.js';
export * from './table.js';
export {
  formatRouteTag,
  type GeoPoint,
  MAX_TAG_LENGTH,
  parseRouteTag,
  ROUTE_COOKIE,
  ROUTE_HEADER,
  ROUTE_KEYS,
  ROUTE_QUERY,
  type RouteKey,
  type RouteTag,
  routeTagFrom,
  type TagSource,
  type TagSources,
} from './tag.js';
