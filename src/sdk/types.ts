// RoutingSource: what every part that routes holds (the newest table and its Resolver).
import type { Resolver, RoutingTable } from '../routing/index.js';

/**
 * What a part that routes (APIRouter, SOA Proxy, DAL, the order service) holds: the newest
 * routing table it knows and one `Resolver` over it. The SDK's GZS client implements it; a static
 * source (a fixed table, for unit tests and tools) implements it too. Parts code against this
 * interface, never against GZS.
 */
export interface RoutingSource {
  /** always routes with the newest table held (the same Resolver object across epochs) */
  readonly resolver: Resolver;
  readonly table: RoutingTable;
  readonly epoch: number;
  /** ms since this source last heard from GZS (0 for a static source) */
  staleMs(): number;
  /** called with every newer table, after `resolver` switched to it */
  onTable(listener: (table: RoutingTable) => void): () => void;
  /** resolves true once the held epoch is ≥ `epoch`, false after `timeoutMs` */
  waitForEpoch(epoch: number, timeoutMs: number): Promise<boolean>;
  /** ask GZS for its newest table now (e.g. after a 421); resolves true when the epoch advanced */
  refresh(): Promise<boolean>;
  close(): Promise<void>;
}
