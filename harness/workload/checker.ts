import { TRANSITIONS } from '../../src/orders/index.js';
import { type CheckResult, judge, type Unread, unreadReason, type ZoneRows } from '../checkers/verdict.js';
import type { History, Op } from './history.js';

export {
  type ConvergenceResult,
  compareTables as convergence,
  type TableDigests,
} from '../checkers/convergence.js';
// The verdict and row types moved to harness/checkers/verdict.ts (the drill checkers share them);
// re-exported so callers of the workload's checkers keep working.
export {
  type CheckResult,
  type Evidence,
  judge,
  notExamined,
  type StoredOrder,
  type Unread,
  type Verdict,
  type ZoneRows,
} from '../checkers/verdict.js';

/**
 * Checkers of DESIGN §7 over a workload's in-memory history and what every eZone's database holds
 * after the run has drained (the verdict rules: harness/checkers/verdict.ts).
 */

/** Orders whose creation was acknowledged. */
export const ackedOrders = (h: History): string[] =>
  h.ops.filter((o) => o.kind === 'create' && o.result === 'ok' && o.orderId).map((o) => o.orderId!);

/** §7.1 No lost order: every acknowledged order exists in every eZone. */
export function noLostOrder(h: History, rows: ZoneRows, unread: Unread = {}): CheckResult {
  const v: string[] = [];
  const ids = ackedOrders(h);
  for (const id of ids) {
    for (const [zone, m] of Object.entries(rows))
      if (!m.has(id)) v.push(`order ${id} acknowledged but missing in ${zone}`);
  }
  return judge({
    checked: ids.length,
    violations: v,
    unknown:
      ids.length === 0
        ? 'no order creation was acknowledged'
        : Object.keys(rows).length === 0
          ? 'no eZone could be read'
          : unreadReason(unread),
  });
}

/** A state an order may be in, with the version it then has (create = 1, +1 per applied step). */
interface Possible {
  state: string;
  version: number;
}

const key = (p: Possible): string => `${p.state}/v${p.version}`;

/** The states `kind` leads to from each possible state (none where it cannot run). */
function stepFrom(possible: Possible[], kind: Op['kind']): Possible[] {
  if (kind === 'create') return [];
  const t = TRANSITIONS[kind];
  return possible
    .filter((p) => (t.from as readonly string[]).includes(p.state))
    .map((p) => ({ state: t.to, version: p.version + 1 }));
}

const union = (a: Possible[], b: Possible[]): Possible[] => {
  const m = new Map(a.map((p) => [key(p), p]));
  for (const p of b) m.set(key(p), p);
  return [...m.values()];
};

/**
 * §7.4 Valid lifecycle: each order's acknowledged steps form a path of its state machine, and the
 * state and version every eZone stores are among those the history allows: the last acknowledged
 * one, or one reached from it by steps whose outcome is unknown (`info`). A refused step (`fail`)
 * must not have happened; a step applied twice shows as a version too high.
 */
export function validLifecycle(h: History, rows: ZoneRows, unread: Unread = {}): CheckResult {
  const v: string[] = [];
  let checked = 0;
  for (const [id, ops] of h.byOrder()) {
    const created = ops.find((o) => o.kind === 'create' && o.result === 'ok');
    if (!created) continue; // the order's creation was not acknowledged: nothing to hold it to
    checked++;
    let possible: Possible[] = [{ state: 'placed', version: 1 }];
    let last = 'placed';
    let unknownSteps = 0;
    let broken = false;
    for (const op of ops) {
      if (op === created || op.result === 'fail') continue;
      const next = stepFrom(possible, op.kind);
      if (op.result === 'info') {
        unknownSteps++;
        possible = union(possible, next);
        continue;
      }
      // acknowledged: the step happened, and reached the state the answer names
      const reached = op.state === undefined ? next : next.filter((p) => p.state === op.state);
      if (reached.length === 0) {
        v.push(
          `order ${id}: acknowledged ${op.kind} → ${op.state} after ${possible.map((p) => p.state).join(' or ')} is not a path`,
        );
        broken = true;
        break;
      }
      possible = reached;
      last = reached[0].state;
      unknownSteps = 0;
    }
    if (broken) continue;
    for (const [zone, m] of Object.entries(rows)) {
      const stored = m.get(id);
      if (!stored) continue; // a missing order is noLostOrder's finding
      if (possible.some((p) => p.state === stored.state && p.version === stored.version)) continue;
      const sameState = possible.filter((p) => p.state === stored.state);
      if (sameState.length > 0) {
        v.push(
          `order ${id} in ${zone}: version ${stored.version}, expected ${sameState.map((p) => p.version).join(' or ')} (a step applied twice or lost)`,
        );
      } else {
        const also = possible.filter((p) => p.state !== last).map((p) => p.state);
        v.push(
          `order ${id} in ${zone}: stored ${stored.state}, last acknowledged ${last}` +
            (also.length
              ? ` (or ${[...new Set(also)].join(' or ')} after ${unknownSteps} unknown step(s))`
              : ''),
        );
      }
    }
  }
  return judge({
    checked,
    violations: v,
    unknown:
      checked === 0
        ? 'no order creation was acknowledged'
        : Object.keys(rows).length === 0
          ? 'no eZone could be read'
          : unreadReason(unread),
  });
}

/**
 * §7.5 Routing correctness (and §7.3 single writer for the workload's requests): every
 * acknowledged request was served by the owner of its shard at the epoch it carried. A request
 * whose epoch GZS's history no longer reaches cannot be judged: it counts as unjudged, and when
 * every request is, the verdict is unknown.
 */
export function routingCorrectness(
  h: History,
  ownerAt: (shard: number, epoch: number) => string | null,
): CheckResult {
  const v: string[] = [];
  let checked = 0;
  let unjudged = 0;
  for (const op of h.ops) {
    if (op.result !== 'ok') continue;
    if (op.zone === undefined || op.shard === undefined || op.epoch === undefined) {
      checked++;
      v.push(`${label(op)}: answer without X-Ez-Zone/X-Ez-Shard/X-Ez-Epoch`);
      continue;
    }
    const owner = ownerAt(op.shard, op.epoch);
    if (owner === null) {
      unjudged++;
      continue;
    }
    checked++;
    if (owner !== op.zone)
      v.push(
        `${label(op)}: served by ${op.zone}, owner of shard ${op.shard} at epoch ${op.epoch} is ${owner}`,
      );
  }
  return judge({
    checked,
    unjudged,
    violations: v,
    unknown:
      checked > 0
        ? undefined
        : unjudged > 0
          ? `GZS's history does not reach the epoch of any of the ${unjudged} acknowledged requests`
          : 'no request was acknowledged',
  });
}

const label = (op: Op): string => `${op.kind}${op.orderId ? ` ${op.orderId}` : ''} (${op.tag})`;
