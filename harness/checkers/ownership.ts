/**
 * The Ownership view the checkers need, made from GZS's ownership log (`GET /ownership`, or a
 * document's log, through src/gzs ownershipView/logView). The log records owner changes and shard
 * locks; order locks are not in it, so `orderLockedAtEpoch` is passed in by the caller when known.
 */
import type { OwnershipView } from '../../src/gzs/index.js';
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
