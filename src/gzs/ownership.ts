/**
 * GZS's ownership log (pure, no I/O): who owned each shard, and whether it was locked, at any time
 * or epoch still retained. GZS keeps it compactly in its document (OwnershipLog) and serves it as
 * `GET /ownership` (OwnershipAnswer); clients such as DRC's illegal-write audit read it with
 * `ownershipView`, and keep a polled copy current with `mergeOwnership`. docs/gzs.md "Ownership log".
 */
import type { RoutingTable } from '../routing/index.js';
import type {
  OwnerChangeEvent,
  OwnershipAnswer,
  OwnershipBase,
  OwnershipEvent,
  ShardLockEvent,
} from '../shared/gzs-protocol.js';

export type { OwnershipAnswer, OwnershipBase, OwnershipEvent } from '../shared/gzs-protocol.js';

/** How long owner changes and shard locks are kept at least (a server option, ownershipRetentionMs). */
export const DEFAULT_OWNERSHIP_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * One epoch's net effect on ownership, as stored: compact, because a failover moves up to 1,024
 * shards in one epoch. `from` is not stored: it is the owner before, known from the base and the
 * entries before this one. Only the net effect of a batch counts (it is atomic: nobody saw the
 * states in between), so a shard appears at most once per list.
 */
export interface OwnershipEntry {
  epoch: number;
  /** ms since the Unix epoch when the epoch began; never decreases from one entry to the next */
  at: number;
  /** new owner → the shards it took over (ascending) */
  owner?: Record<string, number[]>;
  lock?: number[];
  unlock?: number[];
}

/** What GZS stores: a base snapshot and every ownership entry after it. */
export interface OwnershipLog {
  /** complete through this epoch (the table's; less means an older GZS wrote the document) */
  epoch: number;
  base: OwnershipBase;
  /** oldest first, epochs above base.epoch */
  entries: OwnershipEntry[];
}

/** Who owned a shard, and whether it was locked, at a time or epoch the log answers for. */
export interface OwnerState {
  zone: string;
  /**
   * The newest epoch at or before the time (or epoch) asked that changed any shard's owner or lock
   * (the base epoch when none did since): the ownership of every shard then is that epoch's.
   */
  epoch: number;
  locked: boolean;
}

export interface OwnershipView {
  /** complete through this epoch... */
  readonly epoch: number;
  /** ...and up to this time (GZS's clock when it answered) */
  readonly now: number;
  /** the oldest epoch and time it answers for */
  readonly retainedFrom: { epoch: number; at: number };
  /**
   * The owner of `shard` at `atMs` (ms since the Unix epoch): null (unknown, not a guess) before
   * retainedFrom.at, after `now` (a change may have come since), or for a shard the log lacks.
   */
  ownerAt(shard: number, atMs: number): OwnerState | null;
  /** The owner of `shard` at `epoch`: null before retainedFrom.epoch, after `epoch`, or for an unknown shard. */
  ownerAtEpoch(shard: number, epoch: number): OwnerState | null;
}

// ---- state -------------------------------------------------------------------------------------

interface State {
  owners: Map<number, string>;
  locked: Set<number>;
}

function stateOfBase(base: OwnershipBase): State {
  const owners = new Map<number, string>();
  for (const [k, zone] of Object.entries(base.owners)) owners.set(Number(k), zone);
  return { owners, locked: new Set(base.locked) };
}

function stateOfTable(table: RoutingTable): State {
  const owners = new Map<number, string>();
  const locked = new Set<number>();
  for (const [k, e] of Object.entries(table.shards)) {
    owners.set(Number(k), e.zone);
    if (e.state === 'locked') locked.add(Number(k));
  }
  return { owners, locked };
}

function baseOf(state: State, epoch: number, at: number): OwnershipBase {
  const ids = [...state.owners.keys()].sort((a, b) => a - b);
  const owners: Record<string, string> = {};
  for (const id of ids) owners[String(id)] = state.owners.get(id)!;
  return { epoch, at, owners, locked: [...state.locked].sort((a, b) => a - b) };
}

/** Append `v` to the list under `key`, making the list when there is none. */
function add<K extends string>(o: Partial<Record<K, number[]>>, key: K, v: number): void {
  const list = o[key];
  if (list) list.push(v);
  else o[key] = [v];
}

function applyEntry(state: State, e: OwnershipEntry): void {
  if (e.owner)
    for (const [zone, shards] of Object.entries(e.owner)) for (const s of shards) state.owners.set(s, zone);
  if (e.lock) for (const s of e.lock) state.locked.add(s);
  if (e.unlock) for (const s of e.unlock) state.locked.delete(s);
}

/** The entry for moving from `before` to `after` (the shards in `touched`); null when nothing changed. */
function diffEntry(
  before: (s: number) => { zone: string; locked: boolean } | undefined,
  after: (s: number) => { zone: string; locked: boolean } | undefined,
  touched: Iterable<number>,
  epoch: number,
  at: number,
): OwnershipEntry | null {
  const entry: OwnershipEntry = { epoch, at };
  let any = false;
  for (const s of [...new Set(touched)].sort((a, b) => a - b)) {
    const b = before(s);
    const a = after(s);
    if (!a || !b) continue;
    if (a.zone !== b.zone) {
      entry.owner ??= {};
      add(entry.owner, a.zone, s);
      any = true;
    }
    if (a.locked !== b.locked) {
      if (a.locked) add(entry, 'lock', s);
      else add(entry, 'unlock', s);
      any = true;
    }
  }
  return any ? entry : null;
}

// ---- GZS side: keeping the log -------------------------------------------------------------------

/** A log that starts at `table` (its epoch began at `at`). */
export function logFromTable(table: RoutingTable, at: number): OwnershipLog {
  return { epoch: table.epoch, base: baseOf(stateOfTable(table), table.epoch, at), entries: [] };
}

/** Time of the newest entry (or of the base). */
export function lastAt(log: OwnershipLog): number {
  return log.entries.at(-1)?.at ?? log.base.at;
}

/**
 * The log after one accepted batch that turned `before` into `after` (epoch after.epoch, begun at
 * `at`), `touched` naming the shards the batch's owner/lock/unlock changes named.
 */
export function recordOwnership(
  log: OwnershipLog,
  before: RoutingTable,
  after: RoutingTable,
  touched: Iterable<number>,
  at: number,
): OwnershipLog {
  const look = (t: RoutingTable) => (s: number) => {
    const e = t.shards[s];
    return e ? { zone: e.zone, locked: e.state === 'locked' } : undefined;
  };
  const entry = diffEntry(look(before), look(after), touched, after.epoch, at);
  return { epoch: after.epoch, base: log.base, entries: entry ? [...log.entries, entry] : log.entries };
}

/**
 * Fold the entries older than `cutoff` (ms) into the base, so the log stays bounded by time: the
 * base becomes the state after the newest folded entry, from that entry's time on. Answers stay
 * exact for every time ≥ cutoff. Entries are never dropped for size.
 */
export function trimOwnership(log: OwnershipLog, cutoff: number): OwnershipLog {
  let n = 0;
  while (n < log.entries.length && log.entries[n].at < cutoff) n++;
  if (n === 0) return log;
  const state = stateOfBase(log.base);
  for (let i = 0; i < n; i++) applyEntry(state, log.entries[i]);
  const last = log.entries[n - 1];
  return { epoch: log.epoch, base: baseOf(state, last.epoch, last.at), entries: log.entries.slice(n) };
}

/** A history entry as the document keeps it (doc.ts), as far as ownership is concerned. */
interface HistoryLike {
  epoch: number;
  at: number;
  changes: readonly { op: string; shard?: number; zone?: string; from?: unknown }[];
}

function replayForward(state: State, h: HistoryLike, at: number): OwnershipEntry | null {
  const before = new Map<number, { zone: string; locked: boolean }>();
  for (const c of h.changes) {
    if (c.shard === undefined || !state.owners.has(c.shard)) continue;
    if (!before.has(c.shard))
      before.set(c.shard, { zone: state.owners.get(c.shard)!, locked: state.locked.has(c.shard) });
    if (c.op === 'owner' && typeof c.zone === 'string') state.owners.set(c.shard, c.zone);
    else if (c.op === 'lock') state.locked.add(c.shard);
    else if (c.op === 'unlock') state.locked.delete(c.shard);
  }
  const now = (s: number) => ({ zone: state.owners.get(s)!, locked: state.locked.has(s) });
  return diffEntry((s) => before.get(s), now, before.keys(), h.epoch, at);
}

/**
 * A log for a document that has none (written before the log existed, format ezctl-gzs/1 without
 * `ownership`): undo the kept history from the table back to its oldest entry. The log starts at
 * epoch 1 when the history reaches back to it; otherwise at the oldest entry kept (the state before
 * it held from an unknown time, so earlier times and epochs stay unknown).
 */
export function deriveOwnership(
  table: RoutingTable,
  history: readonly HistoryLike[],
  createdAt: number,
  now: number,
): OwnershipLog {
  if (history.length === 0) return logFromTable(table, table.epoch === 1 ? createdAt : now);
  const state = stateOfTable(table);
  for (let i = history.length - 1; i >= 0; i--) {
    const cs = history[i].changes;
    for (let j = cs.length - 1; j >= 0; j--) {
      const c = cs[j];
      if (c.shard === undefined || !state.owners.has(c.shard)) continue;
      if (c.op === 'owner' && typeof c.from === 'string') state.owners.set(c.shard, c.from);
      else if (c.op === 'lock' || c.op === 'unlock') {
        if (c.from === 'locked') state.locked.add(c.shard);
        else state.locked.delete(c.shard);
      }
    }
  }
  let base: OwnershipBase;
  let rest: readonly HistoryLike[];
  if (history[0].epoch === 2) {
    base = baseOf(state, 1, createdAt);
    rest = history;
  } else {
    replayForward(state, history[0], history[0].at);
    base = baseOf(state, history[0].epoch, history[0].at);
    rest = history.slice(1);
  }
  const entries: OwnershipEntry[] = [];
  let at = base.at;
  for (const h of rest) {
    at = Math.max(at, h.at);
    const e = replayForward(state, h, at);
    if (e) entries.push(e);
  }
  return { epoch: table.epoch, base, entries };
}

function sameOwnership(a: State, b: State): boolean {
  if (a.owners.size !== b.owners.size || a.locked.size !== b.locked.size) return false;
  for (const [s, z] of a.owners) if (b.owners.get(s) !== z) return false;
  for (const s of a.locked) if (!b.locked.has(s)) return false;
  return true;
}

/** The state at the end of the log. */
function endState(log: OwnershipLog): State {
  const state = stateOfBase(log.base);
  for (const e of log.entries) applyEntry(state, e);
  return state;
}

/**
 * Make a loaded log complete through the table's epoch. An older GZS instance (over a shared
 * ZooKeeper store, during an upgrade) keeps the `ownership` field without adding to it: add the
 * epochs it committed from the history. When the history no longer covers them, or the result
 * disagrees with the table, start over from the history (deriveOwnership): `reason` says why.
 */
export function catchUpOwnership(
  log: OwnershipLog,
  table: RoutingTable,
  history: readonly HistoryLike[],
  createdAt: number,
  now: number,
): { log: OwnershipLog; reason: string | null } {
  if (log.epoch === table.epoch && sameOwnership(endState(log), stateOfTable(table)))
    return { log, reason: null };
  const from = history.findIndex((h) => h.epoch === log.epoch + 1);
  const contiguous =
    log.epoch < table.epoch &&
    from >= 0 &&
    history.length - from === table.epoch - log.epoch &&
    history.at(-1)?.epoch === table.epoch;
  if (contiguous) {
    const state = endState(log);
    const entries = [...log.entries];
    let at = lastAt(log);
    for (const h of history.slice(from)) {
      at = Math.max(at, h.at);
      const e = replayForward(state, h, at);
      if (e) entries.push(e);
    }
    if (sameOwnership(state, stateOfTable(table)))
      return { log: { epoch: table.epoch, base: log.base, entries }, reason: null };
  }
  return {
    log: deriveOwnership(table, history, createdAt, now),
    reason: `the ownership log ends at epoch ${log.epoch}, the table is at ${table.epoch}${contiguous ? ' and they disagree' : ' and the history no longer covers the gap'}: derived again from the history`,
  };
}

// ---- the wire form -----------------------------------------------------------------------------

const expandedCache = new WeakMap<OwnershipLog, OwnershipEvent[]>();

/** Every entry as wire events (with `from`), oldest first. */
function eventsOf(log: OwnershipLog): OwnershipEvent[] {
  const hit = expandedCache.get(log);
  if (hit) return hit;
  const owners = stateOfBase(log.base).owners;
  const out: OwnershipEvent[] = [];
  for (const e of log.entries) {
    const moves: [number, string][] = [];
    if (e.owner)
      for (const [zone, shards] of Object.entries(e.owner)) for (const s of shards) moves.push([s, zone]);
    moves.sort((a, b) => a[0] - b[0]);
    for (const [shard, to] of moves) {
      out.push({ epoch: e.epoch, at: e.at, shard, from: owners.get(shard) ?? '', to });
      owners.set(shard, to);
    }
    for (const shard of e.lock ?? []) out.push({ epoch: e.epoch, at: e.at, shard, op: 'lock' });
    for (const shard of e.unlock ?? []) out.push({ epoch: e.epoch, at: e.at, shard, op: 'unlock' });
  }
  expandedCache.set(log, out);
  return out;
}

/** Wire events back into entries (one per epoch). */
function entriesOf(events: readonly OwnershipEvent[]): OwnershipEntry[] {
  const out: OwnershipEntry[] = [];
  for (const ev of events) {
    let e = out.at(-1);
    if (!e || e.epoch !== ev.epoch) {
      e = { epoch: ev.epoch, at: ev.at };
      out.push(e);
    }
    if (isOwnerChange(ev)) {
      e.owner ??= {};
      add(e.owner, ev.to, ev.shard);
    } else if (ev.op === 'lock') add(e, 'lock', ev.shard);
    else add(e, 'unlock', ev.shard);
  }
  return out;
}

export const isOwnerChange = (e: OwnershipEvent): e is OwnerChangeEvent => 'to' in e;
export const isShardLock = (e: OwnershipEvent): e is ShardLockEvent => 'op' in e;

/**
 * `GET /ownership?since=E`: with `since` absent or older than the base, the base and every event;
 * otherwise only the events newer than `since` (base null: the caller has the rest).
 */
export function ownershipAnswer(
  log: OwnershipLog,
  generation: string,
  since: number | null,
  now: number,
): OwnershipAnswer {
  const full = since === null || since < log.base.epoch;
  const all = eventsOf(log);
  let events = all;
  if (!full) {
    let i = all.length;
    while (i > 0 && all[i - 1].epoch > since) i--;
    events = all.slice(i);
  }
  return {
    epoch: log.epoch,
    generation,
    now,
    since,
    retainedFrom: { epoch: log.base.epoch, at: log.base.at },
    base: full ? log.base : null,
    events,
  };
}

/**
 * A polled copy brought up to date: `held` (a full answer, or an earlier merge) and `next`, the
 * answer to `GET /ownership?since=<held.epoch>`. What GZS no longer retains is folded into the base
 * as GZS did. Throws when `next` cannot continue `held` (another generation, or a gap): fetch
 * `GET /ownership` without `since` then.
 */
export function mergeOwnership(held: OwnershipAnswer, next: OwnershipAnswer): OwnershipAnswer {
  if (next.base) return next;
  if (!held.base) throw new Error('mergeOwnership: the held answer has no base (start from GET /ownership)');
  if (held.generation !== next.generation) {
    throw new Error(
      `mergeOwnership: GZS's store was re-created (generation ${held.generation} → ${next.generation}): fetch GET /ownership again`,
    );
  }
  if (next.since === null || next.since > held.epoch) {
    throw new Error(
      `mergeOwnership: the answer starts after epoch ${next.since}, the held copy ends at ${held.epoch}: ask with since=${held.epoch}`,
    );
  }
  const cut = next.since;
  let log: OwnershipLog = {
    epoch: next.epoch,
    base: held.base,
    entries: entriesOf([...held.events.filter((e) => e.epoch <= cut), ...next.events]),
  };
  // fold what GZS folded: everything up to its base epoch
  const r = next.retainedFrom;
  if (r.epoch > log.base.epoch) {
    const n = log.entries.findIndex((e) => e.epoch > r.epoch);
    const upTo = n < 0 ? log.entries.length : n;
    const state = stateOfBase(log.base);
    for (let i = 0; i < upTo; i++) applyEntry(state, log.entries[i]);
    log = { epoch: log.epoch, base: baseOf(state, r.epoch, r.at), entries: log.entries.slice(upTo) };
  }
  return {
    ...next,
    since: held.since,
    retainedFrom: { epoch: log.base.epoch, at: log.base.at },
    base: log.base,
    events: eventsOf(log),
  };
}

// ---- reading -----------------------------------------------------------------------------------

/** Greatest i with a[i] ≤ x (a ascending), or -1. */
function lastAtMost(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] <= x) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

interface Segments {
  epochs: number[];
  zones: string[];
  locked: boolean[];
}

/** Index a log for lookups: per shard, the epochs at which its state changed (binary-searched). */
function buildView(log: OwnershipLog, now: number): OwnershipView {
  const { base } = log;
  const epochs = [base.epoch];
  const ats = [base.at];
  const perShard = new Map<number, Segments>();
  const state = stateOfBase(base);
  for (const [s, zone] of state.owners)
    perShard.set(s, { epochs: [base.epoch], zones: [zone], locked: [state.locked.has(s)] });
  for (const e of log.entries) {
    epochs.push(e.epoch);
    ats.push(Math.max(e.at, ats[ats.length - 1]));
    applyEntry(state, e);
    const touched = new Set<number>([...(e.lock ?? []), ...(e.unlock ?? [])]);
    if (e.owner) for (const shards of Object.values(e.owner)) for (const s of shards) touched.add(s);
    for (const s of touched) {
      const seg = perShard.get(s);
      if (!seg) continue;
      seg.epochs.push(e.epoch);
      seg.zones.push(state.owners.get(s)!);
      seg.locked.push(state.locked.has(s));
    }
  }
  const at = (shard: number, i: number): OwnerState | null => {
    const seg = perShard.get(shard);
    if (!seg) return null;
    const j = lastAtMost(seg.epochs, epochs[i]);
    return { zone: seg.zones[j], epoch: epochs[i], locked: seg.locked[j] };
  };
  return {
    epoch: log.epoch,
    now,
    retainedFrom: { epoch: base.epoch, at: base.at },
    ownerAt(shard, atMs) {
      if (!(atMs >= base.at && atMs <= now)) return null;
      return at(shard, lastAtMost(ats, atMs));
    },
    ownerAtEpoch(shard, epoch) {
      if (!(epoch >= base.epoch && epoch <= log.epoch)) return null;
      return at(shard, lastAtMost(epochs, epoch));
    },
  };
}

const viewCache = new WeakMap<object, OwnershipView>();

/**
 * Lookups over an answer of `GET /ownership` that carries its base (a full answer, or one kept
 * current with mergeOwnership). Built once per answer object (cached), then each lookup is a
 * binary search. Pure: no clock, no I/O; "unknown" is null, never a guess.
 */
export function ownershipView(answer: OwnershipAnswer): OwnershipView {
  const hit = viewCache.get(answer);
  if (hit) return hit;
  if (!answer.base) {
    throw new Error(
      'ownershipView: this answer has no base (it asked with since=): merge it into a full one with mergeOwnership',
    );
  }
  const v = buildView(
    { epoch: answer.epoch, base: answer.base, entries: entriesOf(answer.events) },
    answer.now,
  );
  viewCache.set(answer, v);
  return v;
}

/** The same over the stored log (GZS itself); complete up to any time (GZS is the source). */
export function logView(log: OwnershipLog): OwnershipView {
  const hit = viewCache.get(log);
  if (hit) return hit;
  const v = buildView(log, Number.POSITIVE_INFINITY);
  viewCache.set(log, v);
  return v;
}
