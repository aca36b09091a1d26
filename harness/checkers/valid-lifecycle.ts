/**
 * §7.4 Valid lifecycle: each order's observed history is a path of its state machine (src/orders
 * TRANSITIONS); a terminal order never changes again; the state and version every eZone stores are
 * among those the history allows — the last acknowledged one, or one reached from it by steps whose
 * outcome is unknown (`info`). A refused step (`fail`) must not have happened; a step applied twice
 * shows as a version too high.
 */
import { TRANSITIONS } from '../../src/orders/index.js';
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
import { TERMINAL } from './lifecycle-paths.js';
import { type CheckResult, type Evidence, judge, unreadReason } from './verdict.js';

/** A state an order may be in, with the version it then has (create = 1, +1 per applied step). */
interface Possible {
  state: string;
  version: number;
}

const key = (p: Possible): string => `${p.state}/v${p.version}`;

function stepFrom(possible: Possible[], f: keyof typeof TRANSITIONS): Possible[] {
  const t = TRANSITIONS[f];
  return possible
    .filter((p) => (t.from as readonly string[]).includes(p.state))
    .map((p) => ({ state: t.to, version: p.version + 1 }));
}

const union = (a: Possible[], b: Possible[]): Possible[] => {
  const m = new Map(a.map((p) => [key(p), p]));
  for (const p of b) m.set(key(p), p);
  return [...m.values()];
};

export function validLifecycle(input: Pick<CheckInput, 'events' | 'zones' | 'rows' | 'unread'>): CheckResult {
  const v: string[] = [];
  const evidence: Evidence[] = [];
  const { zones, unread } = readable(input);
  let checked = 0;
  const fail = (id: string, msg: string, proof: number[], zone?: string) => {
    v.push(`order ${id}${zone ? ` in ${zone}` : ''}: ${msg} (${lines(proof)})`);
    evidence.push({ orderId: id, ...(zone ? { zone } : {}), lines: proof });
  };
  for (const [id, ops] of opsByOrder(input.events)) {
    const created = ops.find((o) => o.invoke.f === 'create' && outcome(o) === 'ok');
    if (!created) continue; // the order's creation was not acknowledged: nothing to hold it to
    checked++;
    let possible: Possible[] = [{ state: 'placed', version: 1 }];
    let last: ClientOp = created;
    let lastState = 'placed';
    /** the acknowledged step that made the order terminal */
    let terminal: ClientOp | null = null;
    let unknownSteps = 0;
    let broken = false;
    for (const op of ops) {
      // a read of a non-owner's copy may lag the owner: eventual, not a step of the life
      if (op === created || outcome(op) === 'fail' || op.invoke.f === 'read-local') continue;
      const f = op.invoke.f;
      const said = op.complete?.state;
      // an acknowledged answer after the order became terminal names that same state, or it changed
      if (terminal && outcome(op) === 'ok' && op.invoke.index > lineOf(terminal) && said !== undefined) {
        if (said !== lastState || isTransition(f)) {
          fail(
            id,
            `terminal ${lastState} since ${lines([lineOf(terminal)])}, then ${f} answered ${said}`,
            [lineOf(terminal), lineOf(op)],
            op.complete?.zone,
          );
          broken = true;
          break;
        }
        continue;
      }
      if (!isTransition(f)) continue; // reads before the end: not judged here
      const next = stepFrom(possible, f);
      if (outcome(op) === 'info') {
        unknownSteps++;
        possible = union(possible, next);
        continue;
      }
      // acknowledged: the step happened, and reached the state the answer names
      const reached = said === undefined ? next : next.filter((p) => p.state === said);
      if (reached.length === 0) {
        fail(
          id,
          `acknowledged ${f} → ${said ?? TRANSITIONS[f].to} after ${possible.map((p) => p.state).join(' or ')} is not a path`,
          [lineOf(last), lineOf(op)],
          op.complete?.zone,
        );
        broken = true;
        break;
      }
      possible = reached;
      last = op;
      lastState = reached[0].state;
      unknownSteps = 0;
      if (TERMINAL.has(lastState)) terminal = op;
    }
    if (broken) continue;
    for (const [zone, m] of zones) {
      const stored = m.get(id);
      if (!stored) continue; // a missing order is noLostOrder's finding
      if (possible.some((p) => p.state === stored.state && p.version === stored.version)) continue;
      const sameState = possible.filter((p) => p.state === stored.state);
      const proof = [lineOf(created), ...(last === created ? [] : [lineOf(last)])];
      if (sameState.length > 0) {
        fail(
          id,
          `stored version ${stored.version}, expected ${sameState.map((p) => p.version).join(' or ')} (a step applied twice or lost)`,
          proof,
          zone,
        );
      } else {
        const also = possible.filter((p) => p.state !== lastState).map((p) => p.state);
        fail(
          id,
          `stored ${stored.state}, last acknowledged ${lastState}` +
            (also.length
              ? ` (or ${[...new Set(also)].join(' or ')} after ${unknownSteps} unknown step(s))`
              : ''),
          proof,
          zone,
        );
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
