// Cache coherence (DESIGN §7.7): the per-eZone invalidator that turns every committed change in the
// local binlog into a Redis version marker, and the versioned cache-aside rule services follow.
export {
  CacheAside,
  type CacheAsideOptions,
  type CacheRead,
  INVALIDATED_PREFIX,
  INVALIDATED_TTL_MS,
  LEASE_PREFIX,
  versionKey,
} from './cache-aside.js';
export { CHANGES_STREAM, Invalidator, type InvalidatorOptions, positionKey } from './invalidator.js';
export { compileKeyPattern, keyColumns } from './key-pattern.js';
