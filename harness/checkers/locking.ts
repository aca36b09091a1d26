/**
 * §7.6 Locking: no write to a locked shard or a locked order was acknowledged. Judged by the epoch
 * the answer carried: the eZone decided with the table at that epoch, so if that table had the
 * shard locked (a switch under way) or the order locked (failover), the write must have been
 * refused. Needs `ownership.lockedAtEpoch` (and `orderLockedAtEpoch` for order locks): without
 * them, or where they answer undefined, a write is unjudged.
 */
import {
  type CheckInput,
  clientOps,
  isOrderWrite,
  lineOf,
  lines,
  orderIdOf,
  outcome,
  shardOf,
} from './input.js';
import { type CheckResult, type Evidence, judge } from './verdict.js';

export function locking(input: Pick<CheckInput, 'events' | 'ownership'>): CheckResult {
  const v: string[] = [];
  const evidence: Evidence[] = [];
  let checked = 0;
  let unjudged = 0;
  const own = input.ownership;
  for (const op of clientOps(input.events)) {
    if (!isOrderWrite(op) || outcome(op) !== 'ok' || !op.complete) continue;
    const { epoch, zone } = op.complete;
    const shard = shardOf(op);
    const id = orderIdOf(op);
    const shardLocked =
      shard !== undefined && epoch !== undefined ? own?.lockedAtEpoch?.(shard, epoch) : undefined;
    // a create makes a new order: order locks hold orders that existed before a failover
    const orderLocked =
      id !== undefined && epoch !== undefined && op.invoke.f !== 'create'
        ? own?.orderLockedAtEpoch?.(id, epoch)
        : undefined;
    if (shardLocked === undefined && orderLocked === undefined) {
      unjudged++;
      continue;
    }
    checked++;
    const what = `order ${id ?? '?'}: ${op.invoke.f} acknowledged by ${zone ?? '?'} at epoch ${epoch}`;
    if (shardLocked) {
      v.push(`${what} while shard ${shard} was locked (${lines([lineOf(op)])})`);
      evidence.push({ ...(id ? { orderId: id } : {}), shard, zone, lines: [lineOf(op)] });
    } else if (orderLocked) {
      v.push(`${what} while the order was locked (${lines([lineOf(op)])})`);
      evidence.push({ ...(id ? { orderId: id } : {}), shard, zone, lines: [lineOf(op)] });
    }
  }
  return judge({
    checked,
    unjudged,
    violations: v,
    evidence,
    unknown:
      checked > 0
        ? undefined
        : unjudged > 0
          ? `GZS's lock history does not reach the epoch of any of the ${unjudged} acknowledged writes`
          : 'no write was acknowledged',
  });
}
