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

/**
 * An order-lock rule (DESIGN §6 failover; docs/switch.md): every order of one shard whose id was
 * made before `createdBeforeMs` (the timestamp in the id, DESIGN §2) is locked, except those
 * released one by one. One small entry per shard instead of one per order, so a busy eZone's
 * failover (100,000+ open orders) fits the table and its push; cleared when the failed eZone's
 * tail has been applied at the new owner.
 */
export interface OrderLockRule {
  /** the eZone that lost the shard: its tail must be applied before the rule can go */
  zone: ZoneId;
  /** Unix ms: orders whose id's timestamp is below this are locked */
  createdBeforeMs: number;
  reason: string;
  /** Unix ms the rule was set */
  since: number;
  /** orders an operator released (`ezctl locks release`), keyed by order id */
  released: Record<string, { reason: string; at: number }>;
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
  /** order-lock rules keyed by shard id (absent in tables stored before rules existed) */
  orderLockRules?: Record<string, OrderLockRule>;
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
    orderLockRules: {},
  };
}
