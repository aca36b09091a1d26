/**
 * The changes GZS accepts (pure logic, no I/O): their request schemas and how a batch of them
 * turns one table into the next. A batch is atomic and bumps the epoch by exactly one, so a
 * switch step (e.g. "owner(S) = B and unlock S", DESIGN §6 step 4) is one epoch.
 */
import { z } from 'zod';
import {
  decodeOrderId,
  type OrderLockRule,
  type RoutingTable,
  type ShardState,
  shardOfOrderId,
  type ZoneState,
} from '../routing/index.js';
import { OrderId, SHARD_TEXT_RE } from '../shared/gzs-protocol.js';
import { MAX_SHARD, ShardIdSchema as ShardId, ZoneIdSchema as ZoneId } from '../topology/index.js';
import { summarizeIssues } from '../util/validation.js';
import { badRequest, notFound } from './errors.js';

const Reason = z
  .string({ error: 'expected a reason (string)' })
  .min(1, { error: 'expected a non-empty reason' })
  .max(500, { error: 'expected a reason of at most 500 characters' });
const ZoneStateS = z.enum(['active', 'down'], {
  error: (iss) => `expected "active" or "down", got ${JSON.stringify(iss.input)}`,
});
const IfEpoch = z
  .number({ error: 'expected the epoch the change is based on (integer ≥ 1)' })
  .int({ error: 'expected an integer epoch' })
  .min(1, { error: 'expected an epoch ≥ 1' });

export const ChangeSchema = z.discriminatedUnion(
  'op',
  [
    z.strictObject({ op: z.literal('lock'), shard: ShardId, reason: Reason.optional() }),
    z.strictObject({ op: z.literal('unlock'), shard: ShardId }),
    z.strictObject({ op: z.literal('owner'), shard: ShardId, zone: ZoneId }),
    z.strictObject({ op: z.literal('zone'), zone: ZoneId, state: ZoneStateS }),
    z.strictObject({ op: z.literal('order-lock'), orderId: OrderId, reason: Reason }),
    z.strictObject({ op: z.literal('order-unlock'), orderId: OrderId }),
    z.strictObject({
      op: z.literal('order-lock-rule'),
      shard: ShardId,
      zone: ZoneId,
      createdBeforeMs: z
        .number({ error: 'expected createdBeforeMs: Unix ms (integer)' })
        .int({ error: 'expected createdBeforeMs: Unix ms (integer)' })
        .min(0, { error: 'expected createdBeforeMs ≥ 0' }),
      reason: Reason,
    }),
    z.strictObject({ op: z.literal('order-lock-release'), orderId: OrderId, reason: Reason }),
    z.strictObject({
      op: z.literal('order-lock-rule-clear'),
      zone: ZoneId,
      shards: z
        .array(ShardId)
        .max(MAX_SHARD + 1)
        .optional(),
      reason: Reason,
    }),
  ],
  {
    error: (iss) =>
      iss.code === 'invalid_union'
        ? `unknown op ${JSON.stringify((iss.input as { op?: unknown })?.op)} (expected lock, unlock, owner, zone, order-lock, order-unlock, order-lock-rule, order-lock-release, order-lock-rule-clear)`
        : 'expected a change object {op, ...}',
  },
);
export type Change = z.infer<typeof ChangeSchema>;

/** Upper bound of changes in one batch (a failover locks many orders at once). */
export const MAX_BATCH = 20_000;

/** `POST /changes`: a batch applied as one epoch. */
export const BatchSchema = z.strictObject({
  ifEpoch: IfEpoch.optional(),
  changes: z
    .array(ChangeSchema, { error: 'expected a list of changes' })
    .min(1, { error: 'expected at least one change' })
    .max(MAX_BATCH, { error: `expected at most ${MAX_BATCH} changes per batch` }),
});

/** Bodies of the one-change routes (the path names the shard/zone/order). */
export const BodySchemas = {
  lock: z.strictObject({ ifEpoch: IfEpoch.optional(), reason: Reason.optional() }),
  unlock: z.strictObject({ ifEpoch: IfEpoch.optional() }),
  owner: z.strictObject({ ifEpoch: IfEpoch.optional(), zone: ZoneId }),
  zone: z.strictObject({ ifEpoch: IfEpoch.optional(), state: ZoneStateS }),
  orderLock: z.strictObject({ ifEpoch: IfEpoch.optional(), reason: Reason }),
  orderUnlock: z.strictObject({ ifEpoch: IfEpoch.optional() }),
};

/** Parse with a schema; a failure is a 400 whose message names the field (`changes[2].zone: ...`). */
export function parseOr400<T>(schema: z.ZodType<T>, value: unknown, where = 'body'): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  // a missing field reads "required (…)", also where a schema has its own type message
  const issues = r.error.issues.map((i) =>
    i.code === 'invalid_type' && !i.message.startsWith('required') && valueAt(value, i.path) === undefined
      ? { ...i, message: `required (${i.message})` }
      : i,
  );
  throw badRequest(`${where}: ${summarizeIssues(issues).replace(/^\(top level\): /, '')}`);
}

/**
 * A shard id written as text (a path segment or a query value). Only the canonical decimal form is
 * taken: `007`, `+7`, `7.0` or ` 7` would otherwise all read as shard 7, and an id that means a
 * shard must be spelled one way (logs, ETags and audits compare them as text).
 */
export function parseShardText(text: string | null, where: string): number {
  if (text === null) throw badRequest(`${where}: required (expected a shard id, integer 0..${MAX_SHARD})`);
  if (!SHARD_TEXT_RE.test(text)) {
    throw badRequest(
      `${where}: expected a shard id (integer 0..${MAX_SHARD} in canonical decimal: no leading zeros, sign, point or spaces), got ${JSON.stringify(text)}`,
    );
  }
  return parseOr400(ShardId, Number(text), where);
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let v = value;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** A change as recorded in the history: what it did and what was there before (for `ownerAt`). */
export type AppliedChange =
  | { op: 'lock'; shard: number; reason?: string; from: ShardState }
  | { op: 'unlock'; shard: number; from: ShardState }
  | { op: 'owner'; shard: number; zone: string; from: string }
  | { op: 'zone'; zone: string; state: ZoneState; from: ZoneState }
  | { op: 'order-lock'; orderId: string; reason: string; from: 'locked' | 'unlocked' }
  | { op: 'order-unlock'; orderId: string; from: 'locked' }
  | { op: 'order-lock-rule'; shard: number; zone: string; createdBeforeMs: number; reason: string }
  | { op: 'order-lock-release'; orderId: string; reason: string; from: 'explicit' | 'rule' }
  | { op: 'order-lock-rule-clear'; zone: string; shards: number[]; reason: string };

/**
 * The table after `changes`, at epoch + 1. Throws a 404 GzsError for a shard, eZone or order lock
 * the table does not have; the input table is never modified (copy-on-write of the maps touched).
 *
 * A change that would leave its part of the table as it is (the owner it already has, a lock of a
 * locked shard, an unlock of a serving one, the zone state it already has, an order lock with the
 * reason it already has) is a no-op: judged against the state left by the changes before it in the
 * batch, and left out of `applied`. When every change is a no-op the input table itself comes back
 * (same epoch) with `applied` empty: the caller neither stores, pushes nor records anything.
 * Unlocking an order that is not locked stays a 404 (docs/gzs.md), not a no-op.
 */
export function applyChanges(
  table: RoutingTable,
  changes: readonly Change[],
  now: number,
): { table: RoutingTable; applied: AppliedChange[] } {
  const next: RoutingTable = { ...table, epoch: table.epoch + 1 };
  let shardsCopied = false;
  let zonesCopied = false;
  let locksCopied = false;
  const applied: AppliedChange[] = [];
  const at = (i: number): string => (changes.length > 1 ? `changes[${i}]: ` : '');

  const shardEntry = (i: number, shard: number) => {
    const entry = next.shards[shard];
    if (!entry) {
      throw notFound(
        'EZ_UNKNOWN_SHARD',
        `${at(i)}shard ${shard} is not in the routing table (it has ${Object.keys(next.shards).length} shards)`,
      );
    }
    return entry;
  };
  const copyShards = (): void => {
    if (!shardsCopied) {
      next.shards = { ...next.shards };
      shardsCopied = true;
    }
  };
  const zoneEntry = (i: number, zone: string) => {
    const entry = next.zones[zone];
    if (!entry) {
      throw notFound(
        'EZ_UNKNOWN_ZONE',
        `${at(i)}eZone ${JSON.stringify(zone)} is not in the routing table (known: ${Object.keys(next.zones).join(', ')})`,
      );
    }
    return entry;
  };
  let rulesCopied = false;
  const copyRules = (): Record<string, OrderLockRule> => {
    if (!rulesCopied) {
      next.orderLockRules = { ...(next.orderLockRules ?? {}) };
      rulesCopied = true;
    }
    return next.orderLockRules!;
  };
  const copyLocks = (): void => {
    if (!locksCopied) {
      next.orderLocks = { ...next.orderLocks };
      locksCopied = true;
    }
  };

  changes.forEach((c, i) => {
    switch (c.op) {
      case 'lock':
      case 'unlock': {
        const e = shardEntry(i, c.shard);
        const state: ShardState = c.op === 'lock' ? 'locked' : 'serving';
        if (e.state === state) break;
        copyShards();
        next.shards[c.shard] = { ...e, state };
        applied.push(
          c.op === 'lock'
            ? { op: 'lock', shard: c.shard, ...(c.reason ? { reason: c.reason } : {}), from: e.state }
            : { op: 'unlock', shard: c.shard, from: e.state },
        );
        break;
      }
      case 'owner': {
        const e = shardEntry(i, c.shard);
        zoneEntry(i, c.zone);
        if (e.zone === c.zone) break;
        copyShards();
        next.shards[c.shard] = { ...e, zone: c.zone };
        applied.push({ op: 'owner', shard: c.shard, zone: c.zone, from: e.zone });
        break;
      }
      case 'zone': {
        const e = zoneEntry(i, c.zone);
        if (e.state === c.state) break;
        if (!zonesCopied) {
          next.zones = { ...next.zones };
          zonesCopied = true;
        }
        next.zones[c.zone] = { ...e, state: c.state };
        applied.push({ op: 'zone', zone: c.zone, state: c.state, from: e.state });
        break;
      }
      case 'order-lock': {
        const prev = next.orderLocks[c.orderId];
        if (prev?.reason === c.reason) break;
        copyLocks();
        // a repeated lock keeps its start time: the lock has been in force since then
        next.orderLocks[c.orderId] = { reason: c.reason, since: prev?.since ?? now };
        applied.push({
          op: 'order-lock',
          orderId: c.orderId,
          reason: c.reason,
          from: prev ? 'locked' : 'unlocked',
        });
        break;
      }
      case 'order-unlock': {
        if (!next.orderLocks[c.orderId]) {
          throw notFound('EZ_NO_ORDER_LOCK', `${at(i)}order ${c.orderId} is not locked`);
        }
        copyLocks();
        delete next.orderLocks[c.orderId];
        applied.push({ op: 'order-unlock', orderId: c.orderId, from: 'locked' });
        break;
      }
      case 'order-lock-rule': {
        shardEntry(i, c.shard);
        zoneEntry(i, c.zone);
        const prev = next.orderLockRules?.[c.shard];
        if (prev && prev.zone === c.zone && prev.createdBeforeMs === c.createdBeforeMs) break;
        // a second failover of the shard widens the rule to the later time; releases stand
        copyRules()[c.shard] = {
          zone: c.zone,
          createdBeforeMs: Math.max(c.createdBeforeMs, prev?.createdBeforeMs ?? 0),
          reason: c.reason,
          since: prev?.since ?? now,
          released: prev?.released ?? {},
        };
        applied.push({
          op: 'order-lock-rule',
          shard: c.shard,
          zone: c.zone,
          createdBeforeMs: c.createdBeforeMs,
          reason: c.reason,
        });
        break;
      }
      case 'order-lock-release': {
        if (next.orderLocks[c.orderId]) {
          copyLocks();
          delete next.orderLocks[c.orderId];
          applied.push({ op: 'order-lock-release', orderId: c.orderId, reason: c.reason, from: 'explicit' });
          break;
        }
        const shard = shardOfOrderId(c.orderId);
        const rule = next.orderLockRules?.[shard];
        if (!rule || decodeOrderId(c.orderId).timestampMs >= rule.createdBeforeMs || rule.released[c.orderId])
          throw notFound(
            'EZ_NO_ORDER_LOCK',
            `${at(i)}order ${c.orderId} is not locked (no explicit lock${rule ? `; shard ${shard}'s rule locks orders made before ${new Date(rule.createdBeforeMs).toISOString()}${rule.released[c.orderId] ? ' and it was released already' : ''}` : `, no rule for shard ${shard}`})`,
          );
        copyRules()[shard] = {
          ...rule,
          released: { ...rule.released, [c.orderId]: { reason: c.reason, at: now } },
        };
        applied.push({ op: 'order-lock-release', orderId: c.orderId, reason: c.reason, from: 'rule' });
        break;
      }
      case 'order-lock-rule-clear': {
        zoneEntry(i, c.zone);
        const cleared = Object.entries(next.orderLockRules ?? {})
          .filter(([shard, r]) => r.zone === c.zone && (!c.shards || c.shards.includes(Number(shard))))
          .map(([shard]) => Number(shard));
        if (cleared.length === 0) break;
        const rules = copyRules();
        for (const shard of cleared) delete rules[shard];
        applied.push({ op: 'order-lock-rule-clear', zone: c.zone, shards: cleared, reason: c.reason });
        break;
      }
    }
  });
  return applied.length === 0 ? { table, applied } : { table: next, applied };
}

/** One line per change, for logs and `ezctl gzs history`. */
export function describeChange(c: AppliedChange): string {
  switch (c.op) {
    case 'lock':
      return `lock shard ${c.shard}${c.reason ? ` (${c.reason})` : ''}`;
    case 'unlock':
      return `unlock shard ${c.shard}`;
    case 'owner':
      return `shard ${c.shard} owner ${c.from} -> ${c.zone}`;
    case 'zone':
      return `eZone ${c.zone} ${c.from} -> ${c.state}`;
    case 'order-lock':
      return `lock order ${c.orderId} (${c.reason})`;
    case 'order-unlock':
      return `unlock order ${c.orderId}`;
    case 'order-lock-rule':
      return `lock orders of shard ${c.shard} made before ${new Date(c.createdBeforeMs).toISOString()} until ${c.zone}'s tail is applied (${c.reason})`;
    case 'order-lock-release':
      return `release order ${c.orderId} (${c.reason})`;
    case 'order-lock-rule-clear':
      return `clear the order-lock rules of ${c.zone} on shard(s) ${c.shards.join(', ')} (${c.reason})`;
  }
}
