/**
 * The write guard (DESIGN §4, §6): may eZone L accept a write for shard S (and order O) with
 * routing table T? One pure function, so the order service, the gateways and the DAL refuse the
 * same writes with the same words: `EZ_WRONG_ZONE shard=S owner=Z local=L epoch=E`,
 * `EZ_LOCKED shard=S`, `EZ_LOCKED order=ID`.
 */
import { encodeOrderId, ORDER_ID_EPOCH_MS, shardOfOrderId } from './order-id.js';
import type { OrderLockRule, RoutingTable } from './table.js';

export interface WriteAllowed {
  ok: true;
  shard: number;
  owner: string;
  /** the epoch of the table the verdict was made with */
  epoch: number;
}

export interface WriteRefused {
  ok: false;
  code: 'EZ_WRONG_ZONE' | 'EZ_LOCKED' | 'EZ_UNKNOWN_SHARD';
  /** starts with the code word (DESIGN §4), then `key=value` facts */
  message: string;
  shard: number;
  /** the owner at `epoch` (null: the shard is not in the table) */
  owner: string | null;
  epoch: number;
  /** the order whose lock refused it */
  orderId?: string;
  /** try again shortly (a lock clears); a wrong-zone write must be re-routed instead */
  retryable: boolean;
}

export type WriteVerdict = WriteAllowed | WriteRefused;

/**
 * Is `orderId` locked at order level in `table` (DESIGN §6 failover)? Why, or undefined. An
 * explicit lock, or its shard's rule when the id was made before the rule's time and the order was
 * not released. The shard and the time come from the id itself (DESIGN §2): no lookup per order.
 */
export function orderLockOf(table: RoutingTable, orderId: string): { reason: string } | undefined {
  const explicit = table.orderLocks[orderId];
  if (explicit) return explicit;
  const rules = table.orderLockRules;
  if (!rules || !hasRules(rules)) return undefined; // the common case: one WeakMap lookup
  return ruleLockOf(rules, orderId);
}

// tables are immutable (copy-on-write): whether a rules object is empty is known once per object
// (a `for…in` per check cost ~0.5 µs, more than the rest of the guard)
const rulesNonEmpty = new WeakMap<object, boolean>();
function hasRules(rules: object): boolean {
  let has = rulesNonEmpty.get(rules);
  if (has === undefined) {
    has = Object.keys(rules).length > 0;
    rulesNonEmpty.set(rules, has);
  }
  return has;
}

/** Per rule: the smallest id made at or after its time, and the lock's reason (built once). */
const ruleCache = new WeakMap<
  OrderLockRule,
  { firstNewId: string; anyReleased: boolean; reason: { reason: string } }
>();

function ruleLockOf(rules: NonNullable<RoutingTable['orderLockRules']>, orderId: string) {
  let shard: number;
  try {
    shard = shardOfOrderId(orderId);
  } catch {
    return undefined; // not an order id: no rule can name it
  }
  const rule = rules[shard];
  if (!rule) return undefined;
  let c = ruleCache.get(rule);
  if (!c) {
    // id = time << 22 | shard << 12 | sequence: "made before T" is "id < T << 22", compared as
    // canonical decimals (length, then digits) — no BigInt, no decoding per check
    c = {
      firstNewId: encodeOrderId({
        timestampMs: Math.max(rule.createdBeforeMs, ORDER_ID_EPOCH_MS),
        shard: 0,
        sequence: 0,
      }),
      anyReleased: Object.keys(rule.released).length > 0,
      reason: {
        reason: `${rule.reason}: made before ${new Date(rule.createdBeforeMs).toISOString()}, locked until ${rule.zone}'s tail is applied`,
      },
    };
    ruleCache.set(rule, c);
  }
  const f = c.firstNewId;
  const before = orderId.length < f.length || (orderId.length === f.length && orderId < f);
  if (!before || (c.anyReleased && rule.released[orderId])) return undefined;
  return c.reason;
}

/**
 * Does anything lock orders of `shard` at order level? A statement that may touch any order of the
 * shard (it names no order id) is refused while so: what it would be refused for, or undefined.
 */
export function shardOrderLockOf(table: RoutingTable, shard: number): string | undefined {
  const rule = table.orderLockRules?.[shard];
  if (rule)
    return `a rule (${rule.reason}) locks its orders made before ${new Date(rule.createdBeforeMs).toISOString()}`;
  return undefined;
}

export function checkWrite(
  table: RoutingTable,
  local: string,
  shard: number,
  orderId?: string,
): WriteVerdict {
  const epoch = table.epoch;
  const entry = table.shards[shard];
  if (entry === undefined)
    return {
      ok: false,
      code: 'EZ_UNKNOWN_SHARD',
      message: `EZ_UNKNOWN_SHARD shard=${shard} epoch=${epoch} (not in the routing table)`,
      shard,
      owner: null,
      epoch,
      retryable: false,
    };
  if (entry.zone !== local)
    return {
      ok: false,
      code: 'EZ_WRONG_ZONE',
      message: `EZ_WRONG_ZONE shard=${shard} owner=${entry.zone} local=${local} epoch=${epoch}`,
      shard,
      owner: entry.zone,
      epoch,
      retryable: false,
    };
  if (entry.state === 'locked')
    return {
      ok: false,
      code: 'EZ_LOCKED',
      message: `EZ_LOCKED shard=${shard} epoch=${epoch} (switch under way)`,
      shard,
      owner: entry.zone,
      epoch,
      retryable: true,
    };
  if (orderId !== undefined) {
    const lock = orderLockOf(table, orderId);
    if (lock)
      return {
        ok: false,
        code: 'EZ_LOCKED',
        message: `EZ_LOCKED order=${orderId} epoch=${epoch} (${lock.reason})`,
        shard,
        owner: entry.zone,
        epoch,
        orderId,
        retryable: true,
      };
  }
  return { ok: true, shard, owner: entry.zone, epoch };
}
