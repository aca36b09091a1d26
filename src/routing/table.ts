// The routing table GZS owns (epoch, zone states, shard owners and states, keys, order locks).
import type { ShardId, Topology, ZoneId } from '../topology/index.js';

/**
 * The routing table GZS owns (DESIGN §1, §2, §6). Every change GZS accepts bumps `epoch` by one;
 * every decision made from the table carries the epoch it used. Fences are not in the table:
 * they come from the topology's GeoJSON and are indexed once (see fence-index.ts).
 */
export type ZoneState = 'active' | 'down';
export type ShardState = 'serving' | 'locked';

export interface ShardEntry {
  zone: ZoneId;
  state: ShardState;
}

export interface OrderLock {
  /** why it is locked, e.g. "failover ez-bj->ez-sh epoch 7" */
  reason: string;
  /** ms since the Unix epoch */
  since: number;
}

export interface RoutingTable {
  epoch: number;
  globalMaster: ZoneId;
  zones: Record<ZoneId, { state: ZoneState }>;
  /** keyed by shard id (as a string, JSON-friendly) */
  shards: Record<string, ShardEntry>;
  keys: { merchant: Record<string, ShardId>; user: Record<string, ShardId>; rider: Record<string, ShardId> };
  /** order-level locks (DESIGN §6 failover), keyed by order id (decimal string) */
  orderLocks: Record<string, OrderLock>;
}

/** The table at epoch 1, as the topology file describes it. */
export function initialTable(topology: Topology): RoutingTable {
  const shards: Record<string, ShardEntry> = {};
  for (const [id, zone] of topology.shards) shards[String(id)] = { zone, state: 'serving' };
  return {
    epoch: 1,
    globalMaster: topology.globalMaster,
    zones: Object.fromEntries(topology.zones.map((z) => [z.id, { state: 'active' as ZoneState }])),
    shards,
    keys: {
      merchant: { ...topology.keys.merchant },
      user: { ...topology.keys.user },
      rider: { ...topology.keys.rider },
    },
    orderLocks: {},
  };
}
