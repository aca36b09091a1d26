/**
 * §7.5 Routing correctness: every acknowledged request was served by the owner of its shard at the
 * epoch its answer carried (X-Ez-Zone / X-Ez-Shard / X-Ez-Epoch). An answer whose epoch GZS's
 * history no longer reaches cannot be judged: it counts as unjudged, and when every answer is, the
 * verdict is unknown. Global-Zone operations (register, read-user) name no shard: not judged here.
 */
import { type CheckInput, clientOps, lineOf, lines, orderIdOf, outcome, shardOf } from './input.js';
import { type CheckResult, type Evidence, judge } from './verdict.js';

const GLOBAL = new Set(['register', 'read-user']);
/** not routed (an eZone's own copy, asked directly): no owner to be served by */
const UNROUTED = new Set(['read-local']);

export function routingCorrectness(input: Pick<CheckInput, 'events' | 'ownership'>): CheckResult {
  const v: string[] = [];
  const evidence: Evidence[] = [];
  let checked = 0;
  let unjudged = 0;
  for (const op of clientOps(input.events)) {
    if (outcome(op) !== 'ok' || !op.complete || UNROUTED.has(op.invoke.f)) continue;
    const { zone, epoch } = op.complete;
    const shard = shardOf(op);
    const id = orderIdOf(op);
    const what = `${op.invoke.f}${id ? ` of order ${id}` : ''}`;
    if (GLOBAL.has(op.invoke.f) && shard === undefined) continue;
    if (zone === undefined || shard === undefined || epoch === undefined) {
      checked++;
      v.push(`${what}: answer without X-Ez-Zone/X-Ez-Shard/X-Ez-Epoch (${lines([lineOf(op)])})`);
      evidence.push({ ...(id ? { orderId: id } : {}), lines: [lineOf(op)] });
      continue;
    }
    const owner = input.ownership?.ownerAtEpoch(shard, epoch);
    if (owner === undefined) {
      unjudged++;
      continue;
    }
    checked++;
    if (owner !== zone) {
      v.push(
        `${what}: served by ${zone}, owner of shard ${shard} at epoch ${epoch} is ${owner} (${lines([lineOf(op)])})`,
      );
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
          ? `GZS's history does not reach the epoch of any of the ${unjudged} acknowledged requests`
          : 'no request was acknowledged',
  });
}
