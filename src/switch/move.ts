/**
 * A planned shard move S: A → B (DESIGN §6), driven from the control machine: lock S and wait
 * until every live holder acknowledged (the DALs only once their open transactions on S ended),
 * note A's binlog position after that, wait until DRC A → B applied it, then switch the owner in
 * one epoch — the point of no return. Each step is journaled in GZS before it takes effect;
 * before the switch any failure or the timeout rolls back (S stays at A, unlocked) and says why.
 */
import mysql from 'mysql2/promise';
import { currentPosition, drcStatus, readerConnection, waitApplied } from '../drc/index.js';
import type { SwitchEntry } from '../gzs/index.js';
import { failpoint } from '../shared/failpoints.js';
import { gzsZone, rttBetween } from '../topology/index.js';
import { EzError, errorMessage, UsageError } from '../util/errors.js';
import { type DriverOptions, defaultHolder, LeaseKeeper, stopwatch } from './driver.js';

export interface MoveOptions extends DriverOptions {
  shards: number[];
  to: string;
  /** lock → caught up, at most (default 5 s): past it the move rolls back */
  timeoutMs?: number;
  /** refuse when DRC A → B lags more than this now (default 1 s) */
  maxLagMs?: number;
  /** the journal entry's lease (default 3 s): GZS rolls back a move whose driver went silent that long */
  leaseMs?: number;
  dryRun?: boolean;
}

export interface MovePlan {
  shards: number[];
  from: string;
  to: string;
  epoch: number;
  drc: { direction: string; state: string; lagNowMs: number | null; lagP99Ms: number | null };
  /** lock push and acknowledgements + DRC lag + the switch: what clients should see */
  expectedWindowMs: number;
  timeoutMs: number;
}

export interface MoveReport {
  id: string | null;
  outcome: 'switched' | 'rolled-back' | 'planned' | 'unknown';
  plan: MovePlan;
  reason?: string;
  /** lock in force → serving at B, as clients see it (the two epochs' commits) */
  windowMs: number | null;
  steps: {
    lockMs: number | null;
    positionMs: number | null;
    catchUpMs: number | null;
    switchMs: number | null;
  };
  epochs: { lock: number | null; switch: number | null; rollback?: number | null };
  position?: { gtidPos: string; seq: string };
}

/** Why a move may not start: EzError code EZ_SWITCH_REFUSED, exit code 2 (bad plan or unsafe now). */
const refused = (message: string) => new EzError('EZ_SWITCH_REFUSED', message, 2);

export async function planMove(o: MoveOptions): Promise<MovePlan> {
  const { topology } = o;
  if (o.shards.length === 0) throw new UsageError('no shard to move: give --shard S[,S…] or --zone Z');
  if (!topology.zones.some((z) => z.id === o.to))
    throw new UsageError(
      `--to ${o.to}: unknown eZone (known: ${topology.zones.map((z) => z.id).join(', ')})`,
    );
  const { table } = await o.gzs.table();
  const owners = new Set<string>();
  for (const s of o.shards) {
    const e = table.shards[s];
    if (!e) throw new UsageError(`shard ${s} is not in the routing table (epoch ${table.epoch})`);
    owners.add(e.zone);
    if (e.state !== 'serving')
      throw refused(
        `shard ${s} is ${e.state} (a switch under way, or an operator's lock): \`ezctl switch status\``,
      );
  }
  if (owners.size > 1)
    throw new UsageError(
      `shards ${o.shards.join(', ')} are owned by ${[...owners].join(' and ')}: move the shards of one eZone at a time`,
    );
  const from = [...owners][0];
  if (from === o.to) throw new UsageError(`shard(s) ${o.shards.join(', ')} are at ${o.to} already`);
  if (table.zones[o.to]?.state !== 'active')
    throw refused(`eZone ${o.to} is ${table.zones[o.to]?.state}: it cannot take shards`);
  const [d] = await drcStatus(topology, { from, to: o.to });
  const maxLag = o.maxLagMs ?? 1000;
  const drc = {
    direction: `${from} -> ${o.to}`,
    state: d?.state ?? 'unknown',
    lagNowMs: d?.lag.nowMs ?? null,
    lagP99Ms: d?.lag.p99Ms ?? null,
  };
  if (!d || !['running', 'catching-up'].includes(d.state))
    throw refused(
      `DRC ${from} -> ${o.to} is ${drc.state}${d?.lastError ? ` (${d.lastError})` : ''}: a move needs it running (\`ezctl drc status\`)`,
    );
  if (drc.lagNowMs === null || drc.lagNowMs > maxLag)
    throw refused(
      `DRC ${from} -> ${o.to} lags ${drc.lagNowMs === null ? 'an unknown time' : `${Math.round(drc.lagNowMs)} ms`}, over --max-lag ${maxLag} ms: the shard would stay locked while it catches up`,
    );
  // the lock reaches holders at every site from GZS's (round trip there and back), then DRC's lag
  const g = gzsZone(topology);
  const ackRtt = Math.max(...topology.zones.map((z) => rttBetween(topology, g, z.id)));
  const expectedWindowMs = Math.round(
    ackRtt + (drc.lagNowMs ?? 0) + rttBetween(topology, from, o.to) / 2 + 10,
  );
  return {
    shards: [...o.shards].sort((a, b) => a - b),
    from,
    to: o.to,
    epoch: table.epoch,
    drc,
    expectedWindowMs,
    timeoutMs: o.timeoutMs ?? 5000,
  };
}

export async function runMove(o: MoveOptions): Promise<MoveReport> {
  const plan = await planMove(o);
  const report: MoveReport = {
    id: null,
    outcome: 'planned',
    plan,
    windowMs: null,
    steps: { lockMs: null, positionMs: null, catchUpMs: null, switchMs: null },
    epochs: { lock: null, switch: null },
  };
  if (o.dryRun) return report;
  const { topology } = o;

  // A's MariaDB, connected before the lock: the position step is then one query
  const a = await mysql.createConnection({ ...readerConnection(topology, plan.from), connectTimeout: 5000 });
  a.on('error', () => undefined);
  try {
    return await drive(o, plan, report, a);
  } finally {
    await a.end().catch(() => a.destroy());
  }
}

async function drive(
  o: MoveOptions,
  plan: MovePlan,
  report: MoveReport,
  a: mysql.Connection,
): Promise<MoveReport> {
  const { topology, gzs } = o;
  const holder = o.holder ?? defaultHolder();
  const clock = stopwatch(o.onProgress);
  const timeoutMs = plan.timeoutMs;
  const serverIdOf = (z: string) => topology.zones.find((x) => x.id === z)!.serverId;
  const begun = await gzs.beginSwitch({
    kind: 'move',
    shards: plan.shards,
    from: plan.from,
    to: plan.to,
    holder,
    leaseMs: o.leaseMs ?? 3000,
  });
  const entry: SwitchEntry = begun.entry;
  const tLock = performance.now();
  report.id = entry.id;
  report.epochs.lock = begun.epoch;
  clock.say('lock', `switch ${entry.id}: shard(s) ${plan.shards.join(', ')} locked at epoch ${begun.epoch}`);
  failpoint('switch.after-lock');
  const lease = new LeaseKeeper(gzs, entry, holder);
  const deadline = tLock + timeoutMs;
  const left = () => Math.max(0, Math.round(deadline - performance.now()));

  const rollBack = async (reason: string): Promise<MoveReport> => {
    lease.stop();
    report.reason = reason;
    try {
      const r = await gzs.switchAction(entry.id, 'rollback', { holder, reason });
      report.outcome = 'rolled-back';
      report.epochs.rollback = r.epoch;
      clock.say('rollback', `${reason}; shard(s) unlocked at ${plan.from} (epoch ${r.epoch})`);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'EZ_SWITCH_STATE') {
        // the janitor (or a resume) ended it first: say what it is now
        const now = (await gzs.switches()).entries.find((e) => e.id === entry.id);
        report.outcome = now?.state === 'rolled-back' ? 'rolled-back' : 'unknown';
        report.reason = `${reason}; meanwhile ${now?.rollback?.reason ?? `the switch became ${now?.state}`}`;
      } else {
        report.outcome = 'unknown';
        report.reason = `${reason}; and the rollback failed (${errorMessage(err)}): GZS rolls the move back when its lease expires, or run \`ezctl shard move --resume\``;
      }
    }
    return report;
  };

  try {
    // step 1: every live holder holds the lock (the DALs: their transactions on S have ended)
    for (;;) {
      if (lease.lost) return await rollBack(`lost the switch: ${lease.lost}`);
      const wait = Math.min(left(), 1000);
      const r = await gzs.acks(begun.epoch, wait);
      if (r.allAcked) break;
      if (left() === 0)
        return await rollBack(
          `holders did not acknowledge the lock (epoch ${begun.epoch}) within ${timeoutMs} ms: waiting for ${r.waitingFor.join(', ') || (r.warmingUp ? 'GZS warming up' : '?')}`,
        );
    }
    report.steps.lockMs = Math.round(performance.now() - tLock);

    // step 2: A's binlog position, now that no write for S can commit there any more. Reading it
    // has no effect, so it runs while the 'acked' record is journaled (one GZS write less in the
    // window); 'positioned' is journaled after both, so the journal's order stays acked → positioned.
    const t2 = performance.now();
    const [point] = await Promise.all([
      currentPosition(a, serverIdOf(plan.from)),
      gzs.switchAction(entry.id, 'step', { holder, step: 'acked' }),
    ]);
    clock.say('acked', `every live holder holds epoch ${begun.epoch} (${report.steps.lockMs} ms)`);
    failpoint('switch.after-acked');
    const position = { gtidPos: point.gtidPos, seq: String(point.seq) };
    report.position = position;
    await gzs.switchAction(entry.id, 'step', { holder, step: 'positioned', position });
    report.steps.positionMs = Math.round(performance.now() - t2);
    clock.say('positioned', `${plan.from} at ${point.gtidPos}`);
    failpoint('switch.after-position');

    // step 3: DRC A → B has applied it
    const t3 = performance.now();
    try {
      await waitApplied({
        target: readerConnection(topology, plan.to),
        from: plan.from,
        to: plan.to,
        fromServerId: serverIdOf(plan.from),
        seq: point.seq,
        timeoutMs: Math.max(1, left()),
        pollMs: 5,
      });
    } catch (err) {
      if ((err as { code?: string }).code === 'EZ_DRC_BEHIND')
        return await rollBack(`${errorMessage(err)} (timeout ${timeoutMs} ms)`);
      throw err;
    }
    report.steps.catchUpMs = Math.round(performance.now() - t3);
    await gzs.switchAction(entry.id, 'step', { holder, step: 'caught-up' });
    clock.say('caught-up', `${plan.to} applied ${plan.from}'s position (${report.steps.catchUpMs} ms)`);
    failpoint('switch.after-caught-up');
    if (lease.lost) return await rollBack(`lost the switch: ${lease.lost}`);
  } catch (err) {
    lease.stop();
    if (report.outcome !== 'planned') return report;
    return await rollBack(`step failed: ${errorMessage(err)}`);
  }

  // step 4: the point of no return
  const t4 = performance.now();
  try {
    const r = await gzs.switchAction(entry.id, 'commit', { holder });
    report.epochs.switch = r.epoch;
  } catch (err) {
    const code = (err as { code?: string }).code;
    lease.stop();
    if (code === 'EZ_SWITCH_STATE' || code === 'EZ_SWITCH_HELD')
      return await rollBack(`switch refused: ${errorMessage(err)}`);
    // no answer: it may or may not have switched; the journal says which
    const now = await gzs.switches().then(
      (x) => x.entries.find((e) => e.id === entry.id),
      () => undefined,
    );
    if (now && (now.state === 'switched' || now.state === 'done'))
      report.epochs.switch = now.switchEpoch ?? null;
    else if (now && now.state !== 'rolled-back')
      return await rollBack(`switch not confirmed: ${errorMessage(err)}`);
    else {
      report.outcome = now ? 'rolled-back' : 'unknown';
      report.reason = `switch not confirmed: ${errorMessage(err)}${now ? '' : '; GZS unreachable: `ezctl switch status` tells how it ended'}`;
      return report;
    }
  }
  const tSwitch = performance.now();
  lease.stop();
  report.steps.switchMs = Math.round(tSwitch - t4);
  report.windowMs = Math.round(tSwitch - tLock);
  report.outcome = 'switched';
  clock.say(
    'switch',
    `owner of shard(s) ${plan.shards.join(', ')} = ${plan.to} at epoch ${report.epochs.switch}; write-block window ${report.windowMs} ms`,
  );
  failpoint('switch.after-commit');
  await gzs.switchAction(entry.id, 'done', { holder }).catch(() => undefined); // the janitor closes it otherwise
  clock.say('done');
  return report;
}
