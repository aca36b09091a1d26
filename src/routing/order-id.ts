// Order ids (DESIGN §2): 64-bit Snowflake layout with the shard embedded, as decimal strings.
import { MAX_SHARD } from '../topology/index.js';
import { quote, RouteError } from './errors.js';

/**
 * Order ids (DESIGN §2): 64-bit Snowflake layout `timestamp_ms(41) | shard(10) | sequence(12)`
 * with the custom epoch 2026-01-01T00:00:00Z, handled as decimal strings (they exceed 2^53).
 * The top bit stays 0, so ids fit a signed BIGINT too and are below 2^63.
 */
export const ORDER_ID_EPOCH_MS = Date.UTC(2026, 0, 1);
export const TIMESTAMP_BITS = 41;
export const SHARD_BITS = 10;
export const SEQUENCE_BITS = 12;
export const MAX_SEQUENCE = 2 ** SEQUENCE_BITS - 1;
/** Largest timestamp_ms field (relative to the custom epoch): ~69.7 years, until 2095-09. */
export const MAX_TIMESTAMP_FIELD = 2 ** TIMESTAMP_BITS - 1;
/** 2^63 - 1: the largest id the layout can produce. */
export const MAX_ORDER_ID = '9223372036854775807';
const MAX_U64 = '18446744073709551615';

export interface OrderIdFields {
  /** Unix time in ms (not relative to the custom epoch) */
  timestampMs: number;
  shard: number;
  sequence: number;
}

const isUint = (n: number, max: number): boolean => Number.isInteger(n) && n >= 0 && n <= max;

/** Why `id` is not an order id, or undefined when it is one. Shared by decode and the tag parser. */
export function orderIdProblem(id: string): string | undefined {
  const n = id.length;
  if (n === 0) return 'empty order id (expected a decimal order id, e.g. 7290412234567680001)';
  if (n > 20 || !/^[0-9]+$/.test(id))
    return `${quote(id)} is not a decimal order id (expected digits only, e.g. 7290412234567680001)`;
  if (n > 1 && id.charCodeAt(0) === 48)
    return `${quote(id)} has a leading zero (expected the canonical decimal form)`;
  if (n === 20 && id > MAX_U64) return `${id} is out of range (expected below 2^64)`;
  if (n > 19 || (n === 19 && id > MAX_ORDER_ID))
    return `${id} is not a valid order id (expected at most 2^63 - 1: the layout is timestamp 41 | shard 10 | sequence 12 bits)`;
  return undefined;
}

/** Compose an id; throws RangeError naming the bad field (a caller bug, not user input). */
export function encodeOrderId({ timestampMs, shard, sequence }: OrderIdFields): string {
  const rel = timestampMs - ORDER_ID_EPOCH_MS;
  if (!isUint(rel, MAX_TIMESTAMP_FIELD))
    throw new RangeError(
      `order id: timestampMs ${timestampMs} outside ${ORDER_ID_EPOCH_MS}..${ORDER_ID_EPOCH_MS + MAX_TIMESTAMP_FIELD} (2026-01-01 + 2^41 ms)`,
    );
  if (!isUint(shard, MAX_SHARD)) throw new RangeError(`order id: shard ${shard} outside 0..${MAX_SHARD}`);
  if (!isUint(sequence, MAX_SEQUENCE))
    throw new RangeError(`order id: sequence ${sequence} outside 0..${MAX_SEQUENCE}`);
  return ((BigInt(rel) << 22n) | BigInt((shard << SEQUENCE_BITS) | sequence)).toString();
}

/** Split a valid id into its fields; RouteError when it is not an order id. */
export function decodeOrderId(id: string): OrderIdFields {
  const problem = orderIdProblem(id);
  if (problem) throw new RouteError(`order: ${problem}`);
  const v = BigInt(id);
  return {
    timestampMs: Number(v >> 22n) + ORDER_ID_EPOCH_MS,
    shard: Number((v >> 12n) & 0x3ffn),
    sequence: Number(v & 0xfffn),
  };
}

// 10^9 mod 2^22: lets the low 22 bits be computed from two exact doubles (see shardOfOrderId).
const E9_MOD_2_22 = 1e9 % 2 ** 22;

/**
 * The shard embedded in an order id: the routing hot path. No BigInt: the id is split into
 * hi * 10^9 + lo (both exact doubles) and only the low 22 bits are needed, so
 * id mod 2^22 = ((hi mod 2^22) * (10^9 mod 2^22) + lo) mod 2^22, every product below 2^53.
 * Digits are checked in the same pass; the error message is built only for a bad id.
 * (bench/routing.ts measures it next to BigInt parsing: orderShardPerSec vs orderShardBigIntPerSec.)
 */
export function shardOfOrderId(id: string): number {
  const n = id.length;
  if (n === 0 || n > 19 || (n > 1 && id.charCodeAt(0) === 48) || (n === 19 && id > MAX_ORDER_ID))
    throw new RouteError(`order: ${orderIdProblem(id)}`);
  const split = n > 9 ? n - 9 : 0;
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < n; i++) {
    const d = id.charCodeAt(i) - 48;
    if (d < 0 || d > 9) throw new RouteError(`order: ${orderIdProblem(id)}`);
    if (i < split) hi = hi * 10 + d;
    else lo = lo * 10 + d;
  }
  return (((hi % 4194304) * E9_MOD_2_22 + lo) % 4194304) >>> SEQUENCE_BITS;
}

/** shardOfOrderId without validation: for ids already checked (e.g. by parseRouteTag). */
export function shardOfValidOrderId(id: string): number {
  const n = id.length;
  const split = n > 9 ? n - 9 : 0;
  let hi = 0;
  for (let i = 0; i < split; i++) hi = hi * 10 + (id.charCodeAt(i) - 48);
  let lo = 0;
  for (let i = split; i < n; i++) lo = lo * 10 + (id.charCodeAt(i) - 48);
  return (((hi % 4194304) * E9_MOD_2_22 + lo) % 4194304) >>> SEQUENCE_BITS;
}

/**
 * Makes ids for one shard: strictly increasing and unique. Up to 4096 ids per millisecond, then it
 * waits for the next millisecond. When the clock goes back it keeps the last timestamp (ids stay
 * increasing) and, if that millisecond is used up, moves the timestamp on by one instead of
 * waiting for the clock to catch up.
 */
export class OrderIdGenerator {
  readonly shard: number;
  private readonly now: () => number;
  private lastMs = Number.NEGATIVE_INFINITY;
  private sequence = 0;

  constructor(shard: number, now: () => number = Date.now) {
    if (!isUint(shard, MAX_SHARD))
      throw new RangeError(`order id generator: shard ${shard} outside 0..${MAX_SHARD}`);
    this.shard = shard;
    this.now = now;
  }

  next(): string {
    let ms = this.now();
    if (ms <= this.lastMs) {
      if (this.sequence < MAX_SEQUENCE) {
        this.sequence++;
        ms = this.lastMs;
      } else {
        // 4096 ids this millisecond: wait for the next one, or borrow it when the clock is behind
        // (it went back), rather than waiting for the clock to catch up.
        while (ms === this.lastMs) ms = this.now();
        if (ms < this.lastMs) ms = this.lastMs + 1;
        this.sequence = 0;
      }
    } else {
      this.sequence = 0;
    }
    this.lastMs = ms;
    return encodeOrderId({ timestampMs: ms, shard: this.shard, sequence: this.sequence });
  }
}
