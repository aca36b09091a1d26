// The SDK: what a part that routes imports (DESIGN §1). Construction: see client.ts's header.

export type { AckHolder, AckReport, CacheFile, Holder } from '../shared/gzs-protocol.js';
export { type BackoffOptions, backoffDelay } from '../util/backoff.js';
export { readCacheFile, writeCacheFile } from './cache.js';
export { type ClientState, defaultHolderId, RoutingClient, type RoutingClientOptions } from './client.js';
export { StaticRoutingSource } from './static.js';
export type { RoutingSource } from './types.js';
