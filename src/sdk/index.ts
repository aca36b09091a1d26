// The SDK (DESIGN §1): what a part that routes holds — a RoutingSource over the newest table it
// knows, from GZS (RoutingClient, with a cache file) or a fixed table. Construction: client.ts.
export { readCacheFile, writeCacheFile, writeFileDurably } from './cache.js';
export { type ClientState, defaultHolderId, RoutingClient, type RoutingClientOptions } from './client.js';
export { type OpenSourceOptions, openRoutingSource, routingFlags } from './open.js';
export { StaticRoutingSource } from './static.js';
export type { RoutingSource } from './types.js';
