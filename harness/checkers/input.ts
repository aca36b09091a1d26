/**
 * What the drill checkers (DESIGN §7) judge: the whole history.jsonl, what every eZone holds after
 * heal and drain, GZS's ownership history, DRC's illegal-write report and sampled cache entries;
 * and the views of the history they share (client operations paired, grouped by order).
 */
import { TRANSITIONS } from '../../src/orders/index.js';
import { shardOfOrderId } from '../../src/routing/index.js';
import {
  type ClientEvent,
  type ClientF,
  type HistoryEvent,
  isClient,
  type Operation,
  pairOperations,
} from '../history/events.js';
import type { TableDigests } from './convergence.js';
import type { StoredOrder, Unread, ZoneRows } from './verdict.js';

/**
 * What GZS's history says about a shard, as the checkers need it. Every method answers
 * `undefined` for "GZS's history does not reach that far" (not a guess): the checker then counts
 * the answer as unjudged. ownershipFromView (ownership.ts) makes one from `GET /ownership`.
 */
export interface Ownership {
  /** the owner eZone of `shard` in the table at `epoch` */
  ownerAtEpoch(shard: number, epoch: number): string | undefined;
  /** the owner of `shard` at a wall-clock time (ms since the Unix epoch): for answers without an epoch */
  ownerAt?(shard: number, wallMs: number): string | undefined;
  /** whether `shard` was locked (a switch under way) in the table at `epoch`; locking needs it */
  lockedAtEpoch?(shard: number, epoch: number): boolean | undefined;
  /** whether `orderId` was order-locked (failover: explicit or by rule) in the table at `epoch` */
  orderLockedAtEpoch?(orderId: string, epoch: number): boolean | undefined;
}

/** A row of `ezctl audit illegal-writes --json` (the fields the checkers match on). */
export interface IllegalWriteReport {
  origin: string;
  table: string;
  pk: string;
  writtenAt: string;
}

/** A cache entry next to its database row, sampled after the drain (null: absent). */
export interface CacheSample {
  zone: string;
  orderId: string;
  cached: { version: number; state: string } | null;
  row: { version: number; state: string } | null;
}

export interface CheckInput {
  /** the whole history.jsonl */
  events: HistoryEvent[];
  /** every eZone of the topology */
  zones: string[];
  /** per eZone, its orders after the drain (eZones that could not be read are absent) */
  rows: ZoneRows;
  /** eZones whose database could not be read, with why */
  unread: Unread;
  /** per replicated table, per eZone, the table's digest */
  digests: TableDigests;
  /** GZS's ownership history; absent when it could not be read */
  ownership?: Ownership;
  /** DRC's illegal-write report; absent when it could not be read */
  illegalWrites?: IllegalWriteReport[];
  /** cache entries vs rows; absent or empty when none were sampled */
  cache?: CacheSample[];
  /** the table holding orders in the illegal-write report (default `orders`) */
  ordersTable?: string;
}

export type ClientOp = Operation<ClientEvent>;

/** operations that write an order */
export const ORDER_WRITES: readonly ClientF[] = ['create', 'accept', 'pickup', 'deliver', 'cancel'];
export const isOrderWrite = (op: ClientOp): boolean => ORDER_WRITES.includes(op.invoke.f);
export const isTransition = (f: ClientF): f is keyof typeof TRANSITIONS => f in TRANSITIONS;

/** ok / fail / info (an operation the drill ended before it completed is info) */
export const outcome = (op: ClientOp): 'ok' | 'fail' | 'info' =>
  op.complete === null
    ? 'info'
    : op.complete.type === 'ok'
      ? 'ok'
      : op.complete.type === 'fail'
        ? 'fail'
        : 'info';

export const orderIdOf = (op: ClientOp): string | undefined =>
  op.complete?.orderId ?? op.invoke.value.orderId ?? op.invoke.orderId;

/** the shard an answer names, else the one the order id embeds */
export function shardOf(op: ClientOp): number | undefined {
  if (op.complete?.shard !== undefined) return op.complete.shard;
  const id = orderIdOf(op);
  if (id === undefined) return undefined;
  try {
    return shardOfOrderId(id);
  } catch {
    return undefined;
  }
}

/** the history lines of an operation (invoke, completion) */
export const linesOf = (op: ClientOp): number[] =>
  op.complete ? [op.invoke.index, op.complete.index] : [op.invoke.index];

/** the line that shows an operation's outcome: its completion (its invoke while open) */
export const lineOf = (op: ClientOp): number => (op.complete ?? op.invoke).index;

const paired = new WeakMap<HistoryEvent[], { length: number; ops: ClientOp[] }>();

/**
 * Client operations paired; a malformed history throws. Memoised per history array and its length
 * (a writer's array grows while the drill runs: a longer one is paired again).
 */
export function clientOps(events: HistoryEvent[]): ClientOp[] {
  const hit = paired.get(events);
  if (hit && hit.length === events.length) return hit.ops;
  const ops = pairOperations(events.filter(isClient));
  paired.set(events, { length: events.length, ops });
  return ops;
}

/** Each order's operations in completion order (open ones last), by order id. */
export function opsByOrder(events: HistoryEvent[]): Map<string, ClientOp[]> {
  const m = new Map<string, ClientOp[]>();
  for (const op of clientOps(events)) {
    const id = orderIdOf(op);
    if (id === undefined) continue;
    const list = m.get(id) ?? [];
    list.push(op);
    m.set(id, list);
  }
  for (const list of m.values())
    list.sort(
      (a, b) =>
        (a.complete?.index ?? Number.MAX_SAFE_INTEGER) - (b.complete?.index ?? Number.MAX_SAFE_INTEGER),
    );
  return m;
}

/** The eZones whose rows can be read, and why the others cannot (a zone neither read nor reported unread counts as unread). */
export function readable(input: Pick<CheckInput, 'zones' | 'rows' | 'unread'>): {
  zones: [string, Map<string, StoredOrder>][];
  unread: Unread;
} {
  const unread: Unread = { ...input.unread };
  for (const z of input.zones) if (!input.rows[z] && !unread[z]) unread[z] = 'no rows given';
  return { zones: Object.entries(input.rows).filter(([z]) => !input.unread[z]), unread };
}

/** `a, b and 3 more` style list of history lines */
export const lines = (xs: number[]): string => `history line${xs.length === 1 ? '' : 's'} ${xs.join(', ')}`;
