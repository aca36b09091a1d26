/**
 * The switch journal (DESIGN §6; Vitess's journal is the model): every step of a shard move or a
 * failover is written to GZS's store before it takes effect, in the same durable write as the
 * table change it goes with. Pure logic: each transition takes the document's table and journal
 * and returns the table changes and the new journal, or throws a GzsError saying why not.
 *
 * A move: `locked` (lock S, epoch e+1) → `positioned` (A's binlog position noted after every live
 * holder acknowledged) → `caught-up` (DRC A → B applied it) → `switched` (owner(S) = B, serving,
 * e+2: the point of no return) → `done`. Before `switched`, `rolled-back` (S unlocked at A).
 * A failover is `switched` at once (one epoch: A's shards to B, A down, order-lock rules).
 * Every entry carries a lease: a driver that dies is replaced by GZS's janitor (rollback before
 * the point of no return, done after it) or by `ezctl shard move --resume` (takeover).
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { RoutingTable } from '../routing/index.js';
import { MAX_SHARD, ShardIdSchema, ZoneIdSchema } from '../topology/index.js';
import type { Change } from './changes.js';
import { badRequest, GzsError, notFound } from './errors.js';

export type SwitchKind = 'move' | 'failover';
export type SwitchState = 'locked' | 'positioned' | 'caught-up' | 'switched' | 'done' | 'rolled-back';

/** States in which the entry still holds its shards (a driver or the janitor must end it). */
export const OPEN_STATES: ReadonlySet<SwitchState> = new Set([
  'locked',
  'positioned',
  'caught-up',
  'switched',
]);
/** States before the point of no return: an end here is a rollback. */
export const BEFORE_NO_RETURN: ReadonlySet<SwitchState> = new Set(['locked', 'positioned', 'caught-up']);

export interface SwitchStep {
  step: string;
  /** ms since the Unix epoch */
  at: number;
  /** the table epoch the step made, if it changed the table */
  epoch?: number;
  detail?: string;
}

export interface SwitchEntry {
  id: string;
  kind: SwitchKind;
  shards: number[];
  from: string;
  to: string;
  state: SwitchState;
  steps: SwitchStep[];
  /** who drives it and until when GZS waits for it (ms since the Unix epoch) */
  lease: { holder: string; expiresAt: number; ms: number };
  /** A's binlog position noted after the lock was in force (gtid_binlog_pos, and A's own sequence) */
  position?: { gtidPos: string; seq: string };
  lockEpoch?: number;
  switchEpoch?: number;
  reason?: string;
  /** why it was rolled back, by whom */
  rollback?: { reason: string; by: string };
  actor?: string;
  createdAt: number;
  updatedAt: number;
}

const MAX_ENDED = 100;
const Holder = z.string().min(1).max(200);
const LeaseMs = z.number().int().min(500).max(600_000);

export const BeginSchema = z.strictObject({
  kind: z.enum(['move', 'failover']),
  shards: z
    .array(ShardIdSchema)
    .min(1)
    .max(MAX_SHARD + 1)
    .optional(),
  from: ZoneIdSchema,
  to: ZoneIdSchema,
  holder: Holder,
  leaseMs: LeaseMs.default(5000),
  reason: z.string().max(500).optional(),
  /** failover: extra changes made in the same epoch (order-lock rules) */
  extra: z
    .array(z.looseObject({ op: z.string() }))
    .max(2048)
    .optional(),
});
/** What a driver sends (leaseMs optional) and what GZS works with once parsed. */
export type BeginRequest = z.input<typeof BeginSchema>;
type BeginParsed = z.infer<typeof BeginSchema>;

export const StepSchema = z.strictObject({
  holder: Holder,
  step: z.enum(['acked', 'positioned', 'caught-up']),
  position: z.strictObject({ gtidPos: z.string().max(2048), seq: z.string().regex(/^\d{1,20}$/) }).optional(),
  detail: z.string().max(500).optional(),
});
export const HolderSchema = z.strictObject({ holder: Holder, leaseMs: LeaseMs.optional() });
export const RollbackSchema = z.strictObject({ holder: Holder, reason: z.string().min(1).max(500) });

export const SwitchEntrySchema = z.looseObject({
  id: z.string(),
  kind: z.enum(['move', 'failover']),
  shards: z.array(z.number().int()),
  from: z.string(),
  to: z.string(),
  state: z.enum(['locked', 'positioned', 'caught-up', 'switched', 'done', 'rolled-back']),
  steps: z.array(z.looseObject({ step: z.string(), at: z.number() })),
  lease: z.looseObject({ holder: z.string(), expiresAt: z.number(), ms: z.number() }),
  createdAt: z.number(),
  updatedAt: z.number(),
});

/** What a transition does: table changes (maybe none) made in the same write as the journal. */
export interface Transition {
  changes: Change[];
  journal: SwitchEntry[];
  entry: SwitchEntry;
}

const conflict = (code: string, message: string, extra: Record<string, unknown> = {}) =>
  new GzsError(409, code, message, extra);

function find(journal: readonly SwitchEntry[], id: string): SwitchEntry {
  const e = journal.find((x) => x.id === id);
  if (!e) throw notFound('EZ_NO_SWITCH', `no switch ${JSON.stringify(id)} in the journal`);
  return e;
}

/** The journal with `entry` replacing its old self; ended entries beyond the newest 100 dropped. */
function put(journal: readonly SwitchEntry[], entry: SwitchEntry): SwitchEntry[] {
  const rest = journal.filter((x) => x.id !== entry.id);
  const out = [...rest, entry];
  const ended = out.filter((x) => !OPEN_STATES.has(x.state));
  if (ended.length <= MAX_ENDED) return out;
  const drop = new Set(ended.slice(0, ended.length - MAX_ENDED).map((x) => x.id));
  return out.filter((x) => !drop.has(x.id));
}

/** The lease must be this holder's, or expired (then the caller takes it over). */
function checkHolder(e: SwitchEntry, holder: string, now: number): void {
  if (e.lease.holder !== holder && e.lease.expiresAt > now)
    throw conflict(
      'EZ_SWITCH_HELD',
      `switch ${e.id} is driven by ${e.lease.holder} (lease until ${new Date(e.lease.expiresAt).toISOString()}); wait for it or for its lease to expire`,
      { holder: e.lease.holder, expiresAt: e.lease.expiresAt },
    );
}

function renew(e: SwitchEntry, holder: string, now: number, leaseMs = e.lease.ms): SwitchEntry {
  return { ...e, lease: { holder, expiresAt: now + leaseMs, ms: leaseMs }, updatedAt: now };
}

/** Open entries that hold one of `shards`. */
export function openFor(journal: readonly SwitchEntry[], shards: readonly number[]): SwitchEntry[] {
  const want = new Set(shards);
  return journal.filter((e) => OPEN_STATES.has(e.state) && e.shards.some((s) => want.has(s)));
}

/** Begin a move (lock its shards) or a failover (A's shards to B at once: the point of no return). */
export function begin(
  table: RoutingTable,
  journal: readonly SwitchEntry[],
  req: BeginParsed,
  now: number,
  actor?: string,
): Transition {
  if (req.from === req.to) throw badRequest(`from and to are both ${req.from}: nothing to move`);
  for (const z of [req.from, req.to])
    if (!table.zones[z])
      throw notFound('EZ_UNKNOWN_ZONE', `eZone ${JSON.stringify(z)} is not in the routing table`);
  if (table.zones[req.to].state !== 'active')
    throw conflict('EZ_ZONE_DOWN', `eZone ${req.to} is ${table.zones[req.to].state}: it cannot take shards`);
  const owned = Object.entries(table.shards)
    .filter(([, s]) => s.zone === req.from)
    .map(([id]) => Number(id));
  const shards = [...new Set(req.kind === 'failover' ? (req.shards ?? owned) : (req.shards ?? []))].sort(
    (a, b) => a - b,
  );
  if (shards.length === 0)
    throw badRequest(
      req.kind === 'failover' ? `eZone ${req.from} owns no shard` : 'shards: expected at least one shard',
    );
  for (const s of shards) {
    const e = table.shards[s];
    if (!e) throw notFound('EZ_UNKNOWN_SHARD', `shard ${s} is not in the routing table`);
    if (e.zone !== req.from)
      throw conflict(
        'EZ_NOT_OWNER',
        `shard ${s} is owned by ${e.zone}, not ${req.from} (epoch ${table.epoch})`,
      );
    if (req.kind === 'move' && e.state !== 'serving')
      throw conflict('EZ_LOCKED', `shard ${s} is ${e.state} already (another switch, or an operator's lock)`);
  }
  const busy = openFor(journal, shards);
  if (busy.length > 0)
    throw conflict(
      'EZ_SWITCH_IN_PROGRESS',
      `shard(s) ${busy.flatMap((b) => b.shards.filter((s) => shards.includes(s))).join(', ')} already in switch ${busy[0].id} (${busy[0].state}); finish it first (ezctl switch status)`,
    );
  const id = `${req.kind}-${now.toString(36)}-${randomBytes(3).toString('hex')}`;
  const epoch = table.epoch + 1;
  const why = req.reason ?? `${req.kind} ${req.from} -> ${req.to} (${id})`;
  let changes: Change[];
  let state: SwitchState;
  if (req.kind === 'move') {
    changes = shards.map((shard) => ({ op: 'lock', shard, reason: why.slice(0, 500) }));
    state = 'locked';
  } else {
    changes = [
      ...shards.map((shard): Change => ({ op: 'owner', shard, zone: req.to })),
      // a shard an operator had locked is served by B at once too: the failover decides
      ...shards
        .filter((s) => table.shards[s].state === 'locked')
        .map((shard): Change => ({ op: 'unlock', shard })),
      { op: 'zone', zone: req.from, state: 'down' },
      ...((req.extra ?? []) as Change[]),
    ];
    state = 'switched';
  }
  const entry: SwitchEntry = {
    id,
    kind: req.kind,
    shards,
    from: req.from,
    to: req.to,
    state,
    steps: [{ step: req.kind === 'move' ? 'lock' : 'switch', at: now, epoch }],
    lease: { holder: req.holder, expiresAt: now + req.leaseMs, ms: req.leaseMs },
    ...(req.kind === 'move' ? { lockEpoch: epoch } : { switchEpoch: epoch }),
    ...(req.reason ? { reason: req.reason } : {}),
    ...(actor ? { actor } : {}),
    createdAt: now,
    updatedAt: now,
  };
  return { changes, journal: put(journal, entry), entry };
}

/** A step that changes only the journal (acks seen, position noted, caught up); renews the lease. */
export function step(
  journal: readonly SwitchEntry[],
  id: string,
  req: z.infer<typeof StepSchema>,
  now: number,
): Transition {
  const e = find(journal, id);
  checkHolder(e, req.holder, now);
  if (!BEFORE_NO_RETURN.has(e.state))
    throw conflict('EZ_SWITCH_STATE', `switch ${id} is ${e.state}: no ${req.step} step any more`, {
      state: e.state,
    });
  let next: SwitchEntry = renew(e, req.holder, now);
  const record: SwitchStep = { step: req.step, at: now, ...(req.detail ? { detail: req.detail } : {}) };
  if (req.step === 'positioned') {
    if (!req.position) throw badRequest('position: required for the positioned step ({gtidPos, seq})');
    if (e.state !== 'locked')
      throw conflict('EZ_SWITCH_STATE', `switch ${id} is ${e.state}: its position is noted already`);
    next = { ...next, state: 'positioned', position: req.position };
  } else if (req.step === 'caught-up') {
    if (e.state !== 'positioned')
      throw conflict(
        'EZ_SWITCH_STATE',
        `switch ${id} is ${e.state}: caught up with what? (note the position first)`,
      );
    next = { ...next, state: 'caught-up' };
  }
  next = { ...next, steps: [...e.steps, record] };
  return { changes: [], journal: put(journal, next), entry: next };
}

/** Renew (or take over an expired) lease. */
export function heartbeat(
  journal: readonly SwitchEntry[],
  id: string,
  holder: string,
  now: number,
  leaseMs?: number,
): Transition {
  const e = find(journal, id);
  checkHolder(e, holder, now);
  if (!OPEN_STATES.has(e.state))
    throw conflict('EZ_SWITCH_STATE', `switch ${id} is ${e.state}: it has ended`, { state: e.state });
  const next = renew(e, holder, now, leaseMs);
  const took = e.lease.holder !== holder;
  const entry = took
    ? {
        ...next,
        steps: [...e.steps, { step: 'takeover', at: now, detail: `${e.lease.holder} -> ${holder}` }],
      }
    : next;
  return { changes: [], journal: put(journal, entry), entry };
}

/** The point of no return: owner(S) = B and serving, in one epoch, only once caught up. */
export function commit(
  table: RoutingTable,
  journal: readonly SwitchEntry[],
  id: string,
  holder: string,
  now: number,
): Transition {
  const e = find(journal, id);
  checkHolder(e, holder, now);
  if (e.state !== 'caught-up')
    throw conflict(
      'EZ_SWITCH_STATE',
      e.state === 'rolled-back'
        ? `switch ${id} was rolled back (${e.rollback?.reason ?? 'no reason'}): it cannot switch`
        : `switch ${id} is ${e.state}: it switches only once DRC has caught up (state caught-up)`,
      { state: e.state },
    );
  const changes: Change[] = e.shards.flatMap((shard): Change[] => [
    { op: 'owner', shard, zone: e.to },
    { op: 'unlock', shard },
  ]);
  const next: SwitchEntry = {
    ...renew(e, holder, now),
    state: 'switched',
    switchEpoch: table.epoch + 1,
    steps: [...e.steps, { step: 'switch', at: now, epoch: table.epoch + 1 }],
  };
  return { changes, journal: put(journal, next), entry: next };
}

/** Before the point of no return: unlock the shards where they are; after it: refused. */
export function rollback(
  table: RoutingTable,
  journal: readonly SwitchEntry[],
  id: string,
  by: string,
  reason: string,
  now: number,
  o: { janitor?: boolean } = {},
): Transition {
  const e = find(journal, id);
  if (!o.janitor) checkHolder(e, by, now);
  if (!BEFORE_NO_RETURN.has(e.state))
    throw conflict(
      'EZ_SWITCH_STATE',
      e.state === 'rolled-back'
        ? `switch ${id} was rolled back already`
        : `switch ${id} is ${e.state}: past the point of no return it rolls forward, not back`,
      { state: e.state },
    );
  const changes: Change[] = e.shards
    .filter((s) => table.shards[s]?.state === 'locked')
    .map((shard) => ({ op: 'unlock', shard }));
  const next: SwitchEntry = {
    ...e,
    state: 'rolled-back',
    rollback: { reason, by },
    updatedAt: now,
    steps: [
      ...e.steps,
      { step: 'rollback', at: now, epoch: changes.length > 0 ? table.epoch + 1 : undefined, detail: reason },
    ],
  };
  return { changes, journal: put(journal, next), entry: next };
}

/** After the switch: the driver (or the janitor) closes the entry. */
export function finish(
  journal: readonly SwitchEntry[],
  id: string,
  by: string,
  now: number,
  o: { janitor?: boolean } = {},
): Transition {
  const e = find(journal, id);
  if (!o.janitor) checkHolder(e, by, now);
  if (e.state === 'done') return { changes: [], journal: [...journal], entry: e };
  if (e.state !== 'switched')
    throw conflict('EZ_SWITCH_STATE', `switch ${id} is ${e.state}: only a switched one is done`, {
      state: e.state,
    });
  const next: SwitchEntry = {
    ...e,
    state: 'done',
    updatedAt: now,
    steps: [...e.steps, { step: 'done', at: now, ...(o.janitor ? { detail: `closed by GZS (${by})` } : {}) }],
  };
  return { changes: [], journal: put(journal, next), entry: next };
}

/**
 * What the janitor does with an entry whose lease expired: roll back before the point of no
 * return, close after it. `notBefore`: no verdict until then (a GZS that just started gives
 * drivers one lease to find it again).
 */
export function expired(journal: readonly SwitchEntry[], now: number, notBefore: number): SwitchEntry[] {
  if (now < notBefore) return [];
  return journal.filter((e) => OPEN_STATES.has(e.state) && e.lease.expiresAt <= now);
}
