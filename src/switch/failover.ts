/**
 * Emergency failover of eZone A (DESIGN §6): never on a network failure alone. A counts as down
 * only when it is unreachable from outside — APIRouter's probe gets no answer from it and GZS
 * hears from none of its holders — for `downAfterMs` (orchestrator's rule: a dead master is failed
 * over only when the other observers agree). Then all of A's shards move to B in one epoch, A is
 * marked down, and every order of those shards created before that moment is locked at order
 * level (a rule per shard, cleared once A's tail has been applied at B); new orders go on at once.
 */
import { request } from 'undici';
import type { SwitchEntry } from '../gzs/index.js';
import { controlRouterUrl, type Topology } from '../topology/index.js';
import { EzError, errorMessage } from '../util/errors.js';
import { type DriverOptions, defaultHolder, stopwatch } from './driver.js';

export interface Verdict {
  zone: string;
  down: boolean;
  /** one line: why A is (not) down */
  reason: string;
  router: {
    answered: boolean;
    reachable: boolean | null;
    unreachableForMs: number | null;
    error: string | null;
  };
  gzs: { holders: number; live: number; silentForMs: number | null };
  downAfterMs: number;
}

/** APIRouter's view (its /healthz `reach`) and GZS's (its holders of `zone`) of one eZone, now. */
export async function outsideInVerdict(
  o: DriverOptions & { zone: string; downAfterMs: number },
): Promise<Verdict> {
  const { topology, zone, downAfterMs } = o;
  const router: Verdict['router'] = { answered: false, reachable: null, unreachableForMs: null, error: null };
  try {
    const res = await request(`${controlRouterUrl(topology)}/healthz`, {
      headersTimeout: 2000,
      bodyTimeout: 2000,
    });
    const h = (await res.body.json()) as {
      reach?: Record<
        string,
        { reachable: boolean; unreachableForMs: number | null; lastError: string | null }
      >;
    };
    const r = h.reach?.[zone];
    router.answered = r !== undefined;
    if (r) {
      router.reachable = r.reachable;
      router.unreachableForMs = r.unreachableForMs;
      router.error = r.lastError;
    } else router.error = `APIRouter's /healthz has no probe of ${zone}`;
  } catch (err) {
    router.error = `APIRouter did not answer: ${errorMessage(err)}`;
  }
  const acks = await o.gzs.acks();
  const now = Date.now();
  const mine = acks.holders.filter((h) => h.zone === zone);
  const lastSeen = mine.reduce((m, h) => Math.max(m, h.seenAt), 0);
  const gzs = {
    holders: mine.length,
    live: mine.filter((h) => h.live).length,
    silentForMs: lastSeen ? now - lastSeen : null,
  };

  const routerSaysDown = router.reachable === false && (router.unreachableForMs ?? 0) >= downAfterMs;
  const gzsSaysDown =
    gzs.live === 0 && (gzs.silentForMs === null || gzs.silentForMs >= downAfterMs) && !acks.warmingUp;
  let reason: string;
  if (routerSaysDown && gzsSaysDown)
    reason = `${zone} is down as seen from outside: APIRouter has had no answer for ${router.unreachableForMs} ms (${router.error}) and GZS has heard from none of its ${gzs.holders} holder(s) for ${gzs.silentForMs ?? 'ever'} ms`;
  else if (!router.answered)
    reason = `cannot tell from APIRouter's side (${router.error}): not failing over on GZS's view alone`;
  else if (router.reachable)
    reason = `APIRouter still reaches ${zone}${gzsSaysDown ? ` although GZS hears none of its holders (the links between eZones cut? ${zone} keeps serving its own shards)` : ''}`;
  else if (!routerSaysDown)
    reason = `APIRouter has had no answer from ${zone} for ${router.unreachableForMs} ms, less than the ${downAfterMs} ms a verdict needs`;
  else
    reason = `GZS still hears ${gzs.live} live holder(s) of ${zone} (last ${gzs.silentForMs} ms ago): ${zone} is not down, only unreachable from APIRouter`;
  return { zone, down: routerSaysDown && gzsSaysDown, reason, router, gzs, downAfterMs };
}

export interface FailoverOptions extends DriverOptions {
  from: string;
  to: string;
  /** how long A must look down from outside (default 3 s) */
  downAfterMs?: number;
  /** fail over without the outside-in verdict (it says what it risks) */
  force?: boolean;
  /** wait for the verdict (at most this long), then fail over */
  whenDownMs?: number;
  /** how long to wait for the survivor's holders to acknowledge (default 5 s; the switch is in force anyway) */
  ackWaitMs?: number;
}

export interface FailoverReport {
  id: string | null;
  outcome: 'failed-over' | 'refused';
  from: string;
  to: string;
  shards: number[];
  epoch: number | null;
  verdict: Verdict;
  forced: boolean;
  /** the rule per shard: orders created before this are locked until A's tail is applied at B */
  lockedBefore: number | null;
  /** kill (or the start of --when-down) → the switch in force, and the acknowledgements */
  waitedForVerdictMs: number;
  ackMs: number | null;
  notAcked: string[];
  reason?: string;
}

export async function runFailover(o: FailoverOptions): Promise<FailoverReport> {
  const { topology, gzs } = o;
  const clock = stopwatch(o.onProgress);
  for (const z of [o.from, o.to])
    if (!topology.zones.some((x) => x.id === z))
      throw new EzError(
        'EZ_USAGE',
        `unknown eZone ${z} (known: ${topology.zones.map((x) => x.id).join(', ')})`,
        2,
      );
  if (o.from === o.to) throw new EzError('EZ_USAGE', `--from and --to are both ${o.from}`, 2);
  const downAfterMs = o.downAfterMs ?? 3000;
  let verdict = await outsideInVerdict({ ...o, zone: o.from, downAfterMs });
  if (o.whenDownMs !== undefined) {
    clock.say('wait', `waiting for ${o.from} to be down as seen from outside (${verdict.reason})`);
    const until = performance.now() + o.whenDownMs;
    while (!verdict.down && performance.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
      verdict = await outsideInVerdict({ ...o, zone: o.from, downAfterMs });
    }
  }
  const waitedForVerdictMs = clock.ms();
  const { table } = await gzs.table();
  const shards = Object.entries(table.shards)
    .filter(([, s]) => s.zone === o.from)
    .map(([id]) => Number(id));
  const base: FailoverReport = {
    id: null,
    outcome: 'refused',
    from: o.from,
    to: o.to,
    shards,
    epoch: null,
    verdict,
    forced: false,
    lockedBefore: null,
    waitedForVerdictMs,
    ackMs: null,
    notAcked: [],
  };
  if (!verdict.down && !o.force)
    return { ...base, reason: `refused: ${verdict.reason} (--force fails over anyway)` };
  if (!verdict.down)
    clock.say(
      'force',
      `--force: ${o.from} is NOT down as seen from outside (${verdict.reason}); if it still serves, its writes for the moved shards from now on are illegal (reported by DRC) and its clients see EZ_WRONG_ZONE once it hears the new epoch`,
    );
  if (shards.length === 0) return { ...base, reason: `${o.from} owns no shard: nothing to fail over` };
  const now = Date.now();
  const reason = `failover ${o.from} -> ${o.to}`;
  const begun = await gzs.beginSwitch({
    kind: 'failover',
    from: o.from,
    to: o.to,
    holder: o.holder ?? defaultHolder(),
    leaseMs: 5000,
    reason,
    // every order of A's shards created before now: A may have changed it after B's last
    // applied position (a terminal one cannot change again: the rule costs it nothing)
    extra: shards.map((shard) => ({
      op: 'order-lock-rule',
      shard,
      zone: o.from,
      createdBeforeMs: now,
      reason,
    })),
  });
  const entry: SwitchEntry = begun.entry;
  clock.say(
    'switch',
    `switch ${entry.id}: ${shards.length} shard(s) of ${o.from} owned by ${o.to} at epoch ${begun.epoch}`,
  );
  // the survivor's holders: A's are silent (their leases ran out), GZS counts live ones only
  const t = performance.now();
  const acks = await gzs.acks(begun.epoch, o.ackWaitMs ?? 5000);
  const ackMs = Math.round(performance.now() - t);
  await gzs.switchAction(entry.id, 'done', { holder: entry.lease.holder }).catch(() => undefined);
  clock.say(
    'done',
    acks.allAcked
      ? `every live holder holds epoch ${begun.epoch} (${ackMs} ms)`
      : `not yet acknowledged by ${acks.waitingFor.join(', ')}`,
  );
  return {
    ...base,
    id: entry.id,
    outcome: 'failed-over',
    epoch: begun.epoch,
    forced: !verdict.down,
    lockedBefore: now,
    ackMs,
    notAcked: acks.waitingFor,
  };
}

/** The eZones' original shards (the topology's epoch-1 owners) that another eZone owns now. */
export function originalShards(
  topology: Topology,
  zone: string,
  owners: Record<string, { zone: string }>,
): Map<string, number[]> {
  const byOwner = new Map<string, number[]>();
  for (const [shard, z] of topology.shards) {
    if (z !== zone) continue;
    const now = owners[shard]?.zone;
    if (!now || now === zone) continue;
    byOwner.set(now, [...(byOwner.get(now) ?? []), shard]);
  }
  return byOwner;
}
