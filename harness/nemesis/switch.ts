/**
 * Switching actions (DESIGN §6), one-shot: a planned shard `move`, an emergency `failover` of a
 * down eZone, a `failback`. Each drives src/switch against GZS and records its report in the
 * history's `result`: the write-block window and steps of a move, the verdict and RTO of a
 * failover (from the `kill-zone` start of that eZone in the same history to the failover in force).
 * A refused failover or a rolled-back move did nothing: recorded as `fail` with its report.
 */
import {
  type FailbackReport,
  type FailoverReport,
  type MoveReport,
  runFailback,
  runFailover,
  runMove,
} from '../../src/switch/index.js';
import { isNemesis, type NemesisEvent } from '../history/index.js';
import { type Nemesis, type NemesisContext, NemesisNotDone } from './types.js';

const moveResult = (r: MoveReport): Record<string, unknown> => ({
  outcome: r.outcome,
  id: r.id,
  shards: r.plan.shards,
  from: r.plan.from,
  to: r.plan.to,
  windowMs: r.windowMs,
  expectedWindowMs: r.plan.expectedWindowMs,
  steps: r.steps,
  epochs: r.epochs,
  ...(r.reason ? { reason: r.reason } : {}),
});

export function moveNemesis(o: {
  shards: number[];
  to: string;
  timeoutMs?: number;
  maxLagMs?: number;
}): Nemesis {
  return {
    name: 'move',
    value: { ...o },
    describe: () => `move shard(s) ${o.shards.join(',')} to ${o.to}`,
    async start(ctx: NemesisContext) {
      const r = await runMove({ topology: ctx.topology, gzs: ctx.gzs, ...o });
      const result = moveResult(r);
      if (r.outcome !== 'switched')
        throw new NemesisNotDone(`move ${r.outcome}: ${r.reason ?? 'no reason given'}`, result);
      return result;
    },
  };
}

/** The latest completed `kill-zone` start of `zone` in the history: when its processes died. */
function killOf(ctx: NemesisContext, zone: string): { wall: number; index: number } | null {
  const events = ctx.history.events.filter(isNemesis) as NemesisEvent[];
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (e.nemesis === 'kill-zone' && e.f === 'start' && e.type === 'ok' && e.value.zone === zone) {
      const at = e.result?.killedAt;
      return { wall: typeof at === 'number' ? at : e.wall, index: e.index };
    }
  }
  return null;
}

export function failoverNemesis(o: {
  from: string;
  to: string;
  whenDownMs?: number;
  downAfterMs?: number;
  force?: boolean;
}): Nemesis {
  return {
    name: 'failover',
    value: { ...o },
    describe: () =>
      `failover ${o.from} -> ${o.to}${o.whenDownMs !== undefined ? ` once it is down (≤ ${o.whenDownMs} ms)` : ''}`,
    async start(ctx: NemesisContext) {
      const r: FailoverReport = await runFailover({ topology: ctx.topology, gzs: ctx.gzs, ...o });
      const returnedAt = Date.now();
      const kill = killOf(ctx, o.from);
      const result: Record<string, unknown> = {
        outcome: r.outcome,
        id: r.id,
        shards: r.shards,
        epoch: r.epoch,
        forced: r.forced,
        lockedBefore: r.lockedBefore,
        down: r.verdict.down,
        verdict: r.verdict.reason,
        waitedForVerdictMs: r.waitedForVerdictMs,
        ackMs: r.ackMs,
        notAcked: r.notAcked,
        // kill → failover in force; the first write after it is in the history's client events
        rtoMs: kill ? returnedAt - kill.wall : null,
        killEvent: kill?.index ?? null,
        ...(r.reason ? { reason: r.reason } : {}),
      };
      if (r.outcome !== 'failed-over') throw new NemesisNotDone(r.reason ?? `failover ${r.outcome}`, result);
      return result;
    },
  };
}

export function failbackNemesis(o: { zone: string; timeoutMs?: number; maxLagMs?: number }): Nemesis {
  return {
    name: 'failback',
    value: { ...o },
    describe: () => `failback of ${o.zone}'s shards`,
    async start(ctx: NemesisContext) {
      const r: FailbackReport = await runFailback({ topology: ctx.topology, gzs: ctx.gzs, ...o });
      const result: Record<string, unknown> = {
        outcome: r.outcome,
        zoneActivatedAt: r.zoneActivatedAt ?? null,
        moves: r.moves.map(moveResult),
        windowMs: Math.max(0, ...r.moves.map((m) => m.windowMs ?? 0)),
        ...(r.reason ? { reason: r.reason } : {}),
      };
      if (r.outcome === 'refused') throw new NemesisNotDone(r.reason ?? 'failback refused', result);
      // `partial`: some shards moved back (an ok with outcome partial; the moves say which)
      return result;
    },
  };
}
