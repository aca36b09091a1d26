/**
 * §7.1 No lost order: every order whose creation was acknowledged exists, after heal and drain, in
 * every eZone, with a state at least as far along as its last acknowledged step (a row that went
 * back to an earlier state lost a step that was acknowledged).
 */
import {
  type CheckInput,
  type ClientOp,
  isTransition,
  lineOf,
  lines,
  opsByOrder,
  outcome,
  readable,
} from './input.js';
import { reachable } from './lifecycle-paths.js';
import { type CheckResult, type Evidence, judge, unreadReason } from './verdict.js';

export function noLostOrder(input: Pick<CheckInput, 'events' | 'zones' | 'rows' | 'unread'>): CheckResult {
  const v: string[] = [];
  const evidence: Evidence[] = [];
  const { zones, unread } = readable(input);
  let checked = 0;
  for (const [id, ops] of opsByOrder(input.events)) {
    const created = ops.find((o) => o.invoke.f === 'create' && outcome(o) === 'ok');
    if (!created) continue;
    checked++;
    // the last acknowledged step with the state its answer named (the create's: placed)
    let last: ClientOp = created;
    let lastState = created.complete?.state ?? 'placed';
    for (const op of ops)
      if (op !== created && outcome(op) === 'ok' && isTransition(op.invoke.f) && op.complete?.state) {
        last = op;
        lastState = op.complete.state;
      }
    for (const [zone, m] of zones) {
      const row = m.get(id);
      const proof = [lineOf(created), ...(last === created ? [] : [lineOf(last)])];
      if (!row) {
        v.push(`order ${id}: creation acknowledged (${lines([lineOf(created)])}) but missing in ${zone}`);
        evidence.push({ orderId: id, zone, lines: [lineOf(created)] });
      } else if (!reachable(lastState, row.state)) {
        v.push(
          `order ${id} in ${zone}: stored ${row.state}, behind its last acknowledged state ${lastState} (${lines(proof)})`,
        );
        evidence.push({ orderId: id, zone, lines: proof });
      }
    }
  }
  return judge({
    checked,
    violations: v,
    evidence,
    unknown:
      checked === 0
        ? 'no order creation was acknowledged'
        : zones.length === 0
          ? 'no eZone could be read'
          : unreadReason(unread),
  });
}
