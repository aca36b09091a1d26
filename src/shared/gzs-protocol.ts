/**
 * The wire contract between GZS and its SDK clients (docs/gzs.md): the routing-table schema, the
 * push channel's messages and the SDK's cache file. Shared by `src/gzs/` and `src/sdk/`, so the
 * two sides cannot drift apart.
 */
import { z } from 'zod';
import { orderIdProblem, type RoutingTable } from '../routing/index.js';
import { MAX_SHARD, ShardIdSchema as ShardId, ZoneIdSchema as ZoneId } from '../topology/index.js';

/** `GET /watch` (WebSocket, or Server-Sent Events without an Upgrade header). */
export const WATCH_PATH = '/watch';
export const TABLE_PATH = '/table';

export const OrderId = z.string({ error: 'expected an order id (decimal string)' }).superRefine((id, ctx) => {
  const problem = orderIdProblem(id);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const ShardKey = z.string().regex(/^(0|[1-9]\d{0,3})$/, { error: 'expected a shard id as a decimal key' });

/**
 * The table as stored and served. Loose objects: a newer GZS may add fields, an older SDK keeps
 * them instead of stripping them from its cache.
 */
export const RoutingTableSchema = z.looseObject({
  epoch: z.number().int().min(1),
  globalMaster: ZoneId,
  zones: z.record(ZoneId, z.looseObject({ state: z.enum(['active', 'down']) })),
  shards: z.record(ShardKey, z.looseObject({ zone: ZoneId, state: z.enum(['serving', 'locked']) })),
  keys: z.looseObject({
    merchant: z.record(z.string(), ShardId),
    user: z.record(z.string(), ShardId),
    rider: z.record(z.string(), ShardId),
  }),
  orderLocks: z.record(z.string(), z.looseObject({ reason: z.string(), since: z.number() })),
  orderLockRules: z
    .record(
      ShardKey,
      z.looseObject({
        zone: ZoneId,
        createdBeforeMs: z.number(),
        reason: z.string(),
        since: z.number(),
        released: z.record(z.string(), z.looseObject({ reason: z.string(), at: z.number() })),
      }),
    )
    .optional(),
});

/** Who holds a table (an SDK user): acknowledgements are per holder (DESIGN §6 step 1). */
export const HolderSchema = z.strictObject({
  id: z
    .string({ error: 'expected a holder id (string)' })
    .regex(/^[A-Za-z0-9_.:@/-]{1,128}$/, { error: 'expected 1-128 of [A-Za-z0-9_.:@/-]' }),
  kind: z
    .string({ error: 'expected a holder kind (string), e.g. router' })
    .regex(/^[a-z][a-z0-9-]{0,31}$/, { error: 'expected a holder kind: lowercase [a-z][a-z0-9-]{0,31}' }),
  zone: ZoneId.nullable().optional(),
});
export type Holder = z.infer<typeof HolderSchema>;

/** Server → client messages of the push channel (JSON text frames). */
export type ServerMessage =
  /** first message of every connection */
  | { t: 'hello'; generation: string; instance: string; epoch: number; heartbeatMs: number; leaseMs: number }
  /** right after hello, then once per new epoch */
  | { t: 'table'; generation: string; table: RoutingTable }
  /** every heartbeatMs: keeps idle-timeout proxies quiet and lets the client notice a dead server */
  | { t: 'hb'; epoch: number };

/** Client → server messages: who is holding (optional), then acknowledgements/heartbeats. */
export const ClientMessageSchema = z.discriminatedUnion('t', [
  z.strictObject({ t: z.literal('hello'), holder: HolderSchema.optional(), epoch: z.number().int().min(0) }),
  /** the epoch held; sent at once after each new table and every heartbeatMs (renews the lease) */
  z.strictObject({ t: z.literal('ack'), epoch: z.number().int().min(0) }),
  /** a clean close: the holder stops routing, so it stops blocking acknowledgements at once */
  z.strictObject({ t: z.literal('bye') }),
]);
export type ClientMessage = z.infer<typeof ClientMessageSchema>;

/** `POST /acks`: the HTTP form of a heartbeat, for holders that do not keep a push channel. */
export const AckRequestSchema = z.strictObject({
  holder: HolderSchema,
  epoch: z.number({ error: 'expected the epoch held (integer)' }).int().min(0),
});

/** What `GET /acks?epoch=E` answers. */
export interface AckHolder {
  id: string;
  kind: string;
  zone: string | null;
  epoch: number;
  /** ms since the Unix epoch */
  seenAt: number;
  leaseExpiresAt: number;
  live: boolean;
  /** GZS instance that received the last heartbeat */
  via: string;
}
export interface AckReport {
  epoch: number;
  /** every live holder holds ≥ epoch (and GZS is past its warm-up) */
  allAcked: boolean;
  /** GZS started less than one lease ago: holders of the previous run may not have reported yet */
  warmingUp: boolean;
  live: number;
  acked: number;
  /** live holders below `epoch` (ids) */
  waitingFor: string[];
  holders: AckHolder[];
}

/**
 * `GET /ownership?since=E`: GZS's ownership log, every owner change and shard lock/unlock it still
 * retains (by time: 30 days by default) on top of a base snapshot. Read it with `ownershipView`
 * (src/gzs/ownership.ts); docs/gzs.md "Ownership log".
 */
export const OWNERSHIP_PATH = '/ownership';

/** The owner of every shard and the locked shards at the start of what GZS retains. */
export interface OwnershipBase {
  /** the epoch whose ownership this is */
  epoch: number;
  /** ms since the Unix epoch when that epoch began: answers are exact from here on */
  at: number;
  /** shard id (decimal key) → owning eZone */
  owners: Record<string, string>;
  /** locked shards, ascending */
  locked: number[];
}

/** A shard moved: `from` owned it up to epoch - 1, `to` from `epoch` (which began at `at`, ms). */
export interface OwnerChangeEvent {
  epoch: number;
  at: number;
  shard: number;
  from: string;
  to: string;
}

/** A shard was locked (a switch under way, DESIGN §6) or unlocked at `epoch`. */
export interface ShardLockEvent {
  epoch: number;
  at: number;
  shard: number;
  op: 'lock' | 'unlock';
}

/** Oldest first; within one epoch (one atomic batch) owner changes first, then locks, then unlocks. */
export type OwnershipEvent = OwnerChangeEvent | ShardLockEvent;

export interface OwnershipAnswer {
  /** GZS's epoch at the answer: the log is complete through it */
  epoch: number;
  generation: string;
  /** GZS's clock at the answer (ms since the Unix epoch): the log is complete up to this time */
  now: number;
  /** the `since` asked for (null: none) */
  since: number | null;
  /** the oldest epoch and time the log still answers for (= the base's) */
  retainedFrom: { epoch: number; at: number };
  /** present when `since` is absent or older than retainedFrom.epoch; null otherwise (events suffice) */
  base: OwnershipBase | null;
  /** events newer than `since` (with a base: every retained event) */
  events: OwnershipEvent[];
}

const Ms = z.number().int().min(0);
const EpochN = z.number().int().min(1);
const OwnershipEventSchema = z.union([
  z.looseObject({ epoch: EpochN, at: Ms, shard: ShardId, from: ZoneId, to: ZoneId }),
  z.looseObject({ epoch: EpochN, at: Ms, shard: ShardId, op: z.enum(['lock', 'unlock']) }),
]);
export const OwnershipBaseSchema = z.looseObject({
  epoch: EpochN,
  at: Ms,
  owners: z.record(ShardKey, ZoneId),
  locked: z.array(ShardId),
});
/** For clients that take the answer off the network (DRC's poller): check it before trusting it. */
export const OwnershipAnswerSchema = z.looseObject({
  epoch: EpochN,
  generation: z.string().min(1),
  now: Ms,
  since: z.number().int().min(0).nullable(),
  retainedFrom: z.looseObject({ epoch: EpochN, at: Ms }),
  base: OwnershipBaseSchema.nullable(),
  events: z.array(OwnershipEventSchema),
});

/** The SDK's local copy of the newest table (written atomically after every new epoch). */
export const CACHE_FORMAT = 'ezctl-gzs-cache/1';
export const CacheFileSchema = z.strictObject({
  format: z.literal(CACHE_FORMAT),
  generation: z.string(),
  /** ms since the Unix epoch when the SDK last heard from GZS before writing */
  heardAt: z.number(),
  savedAt: z.number(),
  table: RoutingTableSchema,
});
export type CacheFile = Omit<z.infer<typeof CacheFileSchema>, 'table'> & { table: RoutingTable };

/** A cheap shape check for pushed tables (GZS validated them; a full schema pass per push costs). */
export function looksLikeTable(t: unknown): t is RoutingTable {
  const x = t as RoutingTable | null;
  return (
    typeof x === 'object' &&
    x !== null &&
    Number.isInteger(x.epoch) &&
    x.epoch >= 1 &&
    typeof x.shards === 'object' &&
    x.shards !== null &&
    typeof x.zones === 'object' &&
    x.zones !== null &&
    typeof x.keys === 'object' &&
    x.keys !== null &&
    typeof x.orderLocks === 'object' &&
    x.orderLocks !== null
  );
}

/**
 * The change API's token when neither `--token` nor EZ_GZS_TOKEN is set: fine on a laptop, logged
 * as a warning by GZS (remote clusters get generated secrets).
 */
export const DEV_TOKEN = 'ezctl-dev-token';

/** The canonical decimal form of a shard id (range checked separately). */
export const SHARD_TEXT_RE = /^(0|[1-9][0-9]{0,3})$/;

/** A shard id in canonical decimal (`0`..`1023`: no leading zeros, sign, point or spaces), else undefined. */
export function canonicalShard(text: string): number | undefined {
  if (!SHARD_TEXT_RE.test(text)) return undefined;
  const n = Number(text);
  return n <= MAX_SHARD ? n : undefined;
}
