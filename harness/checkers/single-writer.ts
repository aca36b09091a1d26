/**
 * §7.3 Single writer: no state transition of one order was accepted in two eZones, and every
 * accepted write came from the owner of its shard at its epoch, or is in DRC's illegal-write
 * report.
 *
 * "The same step": each state of an order's path is left exactly once, so a step is named by the
 * state it leaves. The order's acknowledged transitions are walked in completion order; one that
 * cannot run from where the walk is but could from a state an earlier acknowledged step left — in
 * another eZone — took that step a second time (two eZones both accepted, or one accepted and the
 * other cancelled, the same placed order). The same thing within one eZone is one database
 * breaking its own state machine: validLifecycle's finding, not this one's.
 */
import { TRANSITIONS } from '../../src/orders/index.js';
import {
  type CheckInput,
  type ClientOp,
  clientOps,
  isOrderWrite,
  isTransition,
  lineOf,
  lines,
  opsByOrder,
  orderIdOf,
  outcome,
  shardOf,
} from './input.js';
import { type CheckResult, type Evidence, judge } from './verdict.js';

/** The owner of an answer's shard when it was given: by its epoch, else by its wall time. */
export function ownerOfAnswer(
  ownership: CheckInput['ownership'],
  op: ClientOp,
  shard: number,
): string | undefined {
  if (!ownership || !op.complete) return undefined;
  const { epoch, wall } = op.complete;
  if (epoch !== undefined) return ownership.ownerAtEpoch(shard, epoch);
  return ownership.ownerAt?.(shard, wall);
}

export function singleWriter(
  input: Pick<CheckInput, 'events' | 'ownership' | 'illegalWrites' | 'ordersTable'>,
): CheckResult {
  const v: string[] = [];
  const evidence: Evidence[] = [];
  let checked = 0;
  let unjudged = 0;
  let unexcusable = 0;
  const ordersTable = input.ordersTable ?? 'orders';
  const reported = new Set(
    (input.illegalWrites ?? []).filter((w) => w.table === ordersTable).map((w) => `${w.origin}\u0000${w.pk}`),
  );

  // (a) no step of one order accepted in two eZones
  for (const [id, ops] of opsByOrder(input.events)) {
    const steps = ops.filter((o) => outcome(o) === 'ok' && isTransition(o.invoke.f) && o.complete?.zone);
    if (steps.length === 0) continue;
    checked++;
    /** the states the walk has left, with the step that left each */
    const left = new Map<string, ClientOp>();
    let at = 'placed';
    for (const op of steps) {
      const t = TRANSITIONS[op.invoke.f as keyof typeof TRANSITIONS];
      const from = t.from as readonly string[];
      if (from.includes(at)) {
        left.set(at, op);
        at = t.to;
        continue;
      }
      const twice = from.map((s) => left.get(s)).find((o) => o && o.complete?.zone !== op.complete?.zone);
      if (twice) {
        const proof = [lineOf(twice), lineOf(op)];
        const state = from.find((s) => left.get(s) === twice);
        v.push(
          `order ${id}: the step out of ${state} accepted in ${twice.complete?.zone} (${twice.invoke.f}) ` +
            `and in ${op.complete?.zone} (${op.invoke.f}) (${lines(proof)})`,
        );
        evidence.push({ orderId: id, zone: op.complete?.zone, lines: proof });
      }
      at = t.to; // follow the later answer; validLifecycle judges the path itself
    }
  }

  // (b) every acknowledged write came from its shard's owner at its epoch, or was reported
  for (const op of clientOps(input.events)) {
    if (!isOrderWrite(op) || outcome(op) !== 'ok') continue;
    const id = orderIdOf(op);
    const shard = shardOf(op);
    const zone = op.complete?.zone;
    if (shard === undefined || zone === undefined) {
      unjudged++;
      continue;
    }
    const owner = ownerOfAnswer(input.ownership, op, shard);
    if (owner === undefined) {
      unjudged++;
      continue;
    }
    checked++;
    if (owner === zone) continue;
    if (id !== undefined && reported.has(`${zone}\u0000${id}`)) continue;
    if (!input.illegalWrites) {
      unexcusable++;
      continue;
    }
    v.push(
      `order ${id ?? '?'}: ${op.invoke.f} accepted by ${zone}, owner of shard ${shard} at epoch ${op.complete?.epoch ?? '?'} is ${owner}, ` +
        `and no illegal-write report names it (${lines([lineOf(op)])})`,
    );
    evidence.push({ orderId: id, shard, zone, lines: [lineOf(op)] });
  }

  return judge({
    checked,
    unjudged,
    violations: v,
    evidence,
    unknown: unexcusable
      ? `${unexcusable} write(s) accepted by a non-owner and no illegal-write report to look them up in`
      : checked === 0
        ? unjudged
          ? `GZS's ownership history does not reach any of the ${unjudged} acknowledged writes`
          : 'no write was acknowledged'
        : !input.ownership
          ? "GZS's ownership history could not be read: only the two-eZone check ran"
          : undefined,
  });
}
