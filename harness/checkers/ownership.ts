/**
 * The Ownership view the checkers need, made from what GZS keeps: its ownership log (`GET
 * /ownership`, or a document's log, read through src/gzs ownershipView/logView) answers owners and
 * shard locks by epoch and time; order locks are not in that log, so orderLocksFromHistory replays
 * them from GZS's change history (`GET /history`).
 */
import type { HistoryEntry, OwnershipView } from '../../src/gzs/index.js';
import { orderLockOf, type RoutingTable, shardOfOrderId } from '../../src/routing/index.js';
import type { Ownership } from './input.js';

export function ownershipFromView(
  view: Pick<OwnershipView, 'ownerAt' | 'ownerAtEpoch'>,
  orderLockedAtEpoch?: Ownership['orderLockedAtEpoch'],
): Ownership {
  return {
    ownerAtEpoch: (shard, epoch) => view.ownerAtEpoch(shard, epoch)?.zone,
    ownerAt: (shard, wallMs) => view.ownerAt(shard, wallMs)?.zone,
    lockedAtEpoch: (shard, epoch) => view.ownerAtEpoch(shard, epoch)?.locked,
    ...(orderLockedAtEpoch ? { orderLockedAtEpoch } : {}),
  };
}

type Locks = Pick<RoutingTable, 'orderLocks'> & {
  orderLockRules: NonNullable<RoutingTable['orderLockRules']>;
};

/**
 * Whether an order was order-locked at an epoch, replayed forward from `base` (by default the
 * table at epoch 1, which has no order locks) through GZS's history entries, oldest first. The
 * answer is undefined (unknown) for an epoch before the base, and for every epoch when the history
 * does not reach back to the base (it was trimmed: what it dropped may have locked orders). Epochs
 * past the last entry keep the last state: pass a history that is current.
 */
export function orderLocksFromHistory(
  history: readonly HistoryEntry[],
  base: { epoch: number } & Partial<Locks> = { epoch: 1 },
): NonNullable<Ownership['orderLockedAtEpoch']> {
  const entries = [...history].sort((a, b) => a.epoch - b.epoch).filter((e) => e.epoch > base.epoch);
  const connected = entries.length === 0 || entries[0].epoch === base.epoch + 1;
  let cur: Locks = { orderLocks: { ...base.orderLocks }, orderLockRules: { ...base.orderLockRules } };
  const states: { epoch: number; locks: Locks }[] = [{ epoch: base.epoch, locks: cur }];
  for (const e of entries) {
    let changed = false;
    const next: Locks = { orderLocks: { ...cur.orderLocks }, orderLockRules: { ...cur.orderLockRules } };
    for (const c of e.changes) {
      switch (c.op) {
        case 'order-lock':
          next.orderLocks[c.orderId] = { reason: c.reason, since: e.at };
          changed = true;
          break;
        case 'order-unlock':
          delete next.orderLocks[c.orderId];
          changed = true;
          break;
        case 'order-lock-rule': {
          const prev = next.orderLockRules[c.shard];
          next.orderLockRules[c.shard] = {
            zone: c.zone,
            createdBeforeMs: Math.max(c.createdBeforeMs, prev?.createdBeforeMs ?? 0),
            reason: c.reason,
            since: prev?.since ?? e.at,
            released: prev?.released ?? {},
          };
          changed = true;
          break;
        }
        case 'order-lock-release':
          if (c.from === 'explicit') delete next.orderLocks[c.orderId];
          else {
            const shard = shardOfOrderId(c.orderId);
            const rule = next.orderLockRules[shard];
            if (rule)
              next.orderLockRules[shard] = {
                ...rule,
                released: { ...rule.released, [c.orderId]: { reason: c.reason, at: e.at } },
              };
          }
          changed = true;
          break;
        case 'order-lock-rule-clear':
          for (const shard of c.shards) delete next.orderLockRules[shard];
          changed = true;
          break;
      }
    }
    if (!changed) continue;
    cur = next;
    states.push({ epoch: e.epoch, locks: cur });
  }
  return (orderId, epoch) => {
    if (!connected || epoch < base.epoch) return undefined;
    let s = states[0];
    for (const x of states) if (x.epoch <= epoch) s = x;
    return orderLockOf(s.locks as RoutingTable, orderId) !== undefined;
  };
}
