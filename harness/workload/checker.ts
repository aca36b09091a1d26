import { isValidHistory } from '../../src/orders/lifecycle.js';
import type { History, Op } from './history.js';

/**
 * Checkers of DESIGN §7 over a recorded history and what every eZone's database holds after the
 * run has drained. Each returns `{ ok, … }` with the evidence of every violation (capped).
 */
export interface CheckResult {
  ok: boolean;
  checked: number;
  violations: string[];
}

/** An order row as one eZone holds it. */
export interface StoredOrder {
  id: string;
  state: string;
  version: number;
  updatedAt: string;
}

export type ZoneRows = Record<string, Map<string, StoredOrder>>;

const MAX_EVIDENCE = 20;
const result = (checked: number, violations: string[]): CheckResult => ({
  ok: violations.length === 0,
  checked,
  violations: violations
    .slice(0, MAX_EVIDENCE)
    .concat(violations.length > MAX_EVIDENCE ? [`… and ${violations.length - MAX_EVIDENCE} more`] : []),
});

/** Orders whose creation was acknowledged. */
export const ackedOrders = (h: History): string[] =>
  h.ops.filter((o) => o.kind === 'create' && o.result === 'ok' && o.orderId).map((o) => o.orderId!);

/** §7.1 No lost order: every acknowledged order exists in every eZone. */
export function noLostOrder(h: History, rows: ZoneRows): CheckResult {
  const v: string[] = [];
  const ids = ackedOrders(h);
  for (const id of ids) {
    for (const [zone, m] of Object.entries(rows))
      if (!m.has(id)) v.push(`order ${id} acknowledged but missing in ${zone}`);
  }
  return result(ids.length, v);
}

/** §7.2 Convergence (for the workload's orders): every eZone holds the same state, version and updated_at. */
export function convergence(h: History, rows: ZoneRows): CheckResult {
  const v: string[] = [];
  const ids = ackedOrders(h);
  const zones = Object.keys(rows);
  for (const id of ids) {
    const seen = zones.map((z) => rows[z].get(id)).filter((r): r is StoredOrder => !!r);
    if (seen.length < 2) continue;
    const first = seen[0];
    for (let i = 1; i < seen.length; i++) {
      const r = seen[i];
      if (r.state !== first.state || r.version !== first.version || r.updatedAt !== first.updatedAt) {
        v.push(`order ${id} differs: ${zones.map((z) => `${z}=${describe(rows[z].get(id))}`).join(' ')}`);
        break;
      }
    }
  }
  return result(ids.length, v);
}

const describe = (r?: StoredOrder): string => (r ? `${r.state}/v${r.version}@${r.updatedAt}` : 'missing');

/**
 * §7.4 Valid lifecycle: the acknowledged states of each order form a path of its state machine,
 * and the stored state is reachable from the last acknowledged one (an unknown-outcome step may
 * have happened after it, a refused one must not have).
 */
export function validLifecycle(h: History, rows: ZoneRows): CheckResult {
  const v: string[] = [];
  let checked = 0;
  for (const [id, ops] of h.byOrder()) {
    const acked = ops.filter((o) => o.result === 'ok' && o.state).map((o) => o.state!);
    if (acked.length === 0) continue;
    checked++;
    if (!isValidHistory(acked))
      v.push(`order ${id}: acknowledged states ${acked.join(' → ')} are not a path`);
    const maybe = ops.filter((o) => o.result === 'info').length;
    for (const [zone, m] of Object.entries(rows)) {
      const stored = m.get(id);
      if (!stored) continue;
      const last = acked[acked.length - 1];
      const okVersion = acked.length; // create = version 1, +1 per acknowledged step
      if (stored.state !== last && maybe === 0)
        v.push(`order ${id} in ${zone}: stored ${stored.state}, last acknowledged ${last}`);
      if (stored.version < okVersion || stored.version > okVersion + maybe) {
        v.push(
          `order ${id} in ${zone}: version ${stored.version}, expected ${okVersion}${maybe ? `..${okVersion + maybe}` : ''} (a step applied twice or lost)`,
        );
      }
    }
  }
  return result(checked, v);
}

/**
 * §7.5 Routing correctness (and §7.3 single writer for the workload's requests): every
 * acknowledged request was served by the owner of its shard at the epoch it carried.
 */
export function routingCorrectness(
  h: History,
  ownerAt: (shard: number, epoch: number) => string | null,
): CheckResult {
  const v: string[] = [];
  let checked = 0;
  for (const op of h.ops) {
    if (op.result !== 'ok') continue;
    checked++;
    if (op.zone === undefined || op.shard === undefined || op.epoch === undefined) {
      v.push(`${label(op)}: answer without X-Ez-Zone/X-Ez-Shard/X-Ez-Epoch`);
      continue;
    }
    const owner = ownerAt(op.shard, op.epoch);
    if (owner === null) continue; // history no longer reaches that epoch: cannot judge
    if (owner !== op.zone)
      v.push(
        `${label(op)}: served by ${op.zone}, owner of shard ${op.shard} at epoch ${op.epoch} is ${owner}`,
      );
  }
  return result(checked, v);
}

const label = (op: Op): string => `${op.kind}${op.orderId ? ` ${op.orderId}` : ''} (${op.tag})`;
