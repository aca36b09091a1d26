/**
 * The cache rule services follow (docs/drc.md "Cache invalidation"): versioned cache-aside with
 * leases. One Redis key per row (`order:{id}`) holds one of
 *
 *   absent | a JSON value | `\0lease:<token>|<floor>` | `\0inv:<floor>`
 *
 * where <floor> is a row version as sortable text (see versionKey). The invalidator replaces the
 * key with `\0inv:<version of the change>` after every change it reads from the binlog (the old
 * value is gone, like a DEL, but the version it was invalidated at stays for 60 s).
 *
 * A reader that misses claims the key with a lease that remembers the floor, loads the row from
 * the database, and stores it only if its lease is still there AND the loaded version is not
 * below the floor (one Lua step). So neither classic race leaves a stale value behind:
 * - load old row → change commits → invalidation → store: the invalidation replaced the lease;
 * - invalidation → load sees the old row because the change is in the binlog but not yet visible
 *   in InnoDB (the binlog is written just before the engine commit): the loaded version is below
 *   the floor.
 * Once a change has been invalidated, Redis never serves a version older than it.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { atKey, type Version } from '../shared/row-version.js';

export const LEASE_PREFIX = '\u0000lease:';
export const INVALIDATED_PREFIX = '\u0000inv:';
/** how long the invalidator's marker keeps the version floor */
export const INVALIDATED_TTL_MS = 60_000;

/** A version as text that sorts like the version (updated_at, then origin). */
export const versionKey = (v: Version): string => `${atKey(v.at)}|${String(v.origin).padStart(10, '0')}`;

/** KEYS[1] key; ARGV lease-token → the floor (or nil when someone else holds a lease) */
const CLAIM = `local v = redis.call('GET', KEYS[1])
local floor = ''
if v then
  if string.sub(v, 1, ${INVALIDATED_PREFIX.length}) == ARGV[3] then floor = string.sub(v, ${INVALIDATED_PREFIX.length + 1})
  else return false end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. floor, 'PX', ARGV[2])
return floor`;

/** KEYS[1] key; ARGV lease, value, version, ttl → 1 stored, 0 lost the lease, -1 below the floor */
const STORE = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local floor = string.match(ARGV[1], '|(.*)$')
if floor ~= '' and ARGV[3] < floor then
  redis.call('SET', KEYS[1], ARGV[5] .. floor, 'PX', ARGV[6])
  return -1
end
if ARGV[2] == '' then
  if floor == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[5] .. floor, 'PX', ARGV[6]) end
  return 0
end
if tonumber(ARGV[4]) > 0 then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[4]) else redis.call('SET', KEYS[1], ARGV[2]) end
return 1`;

export interface CacheAsideOptions {
  /** how long a lease holds the key while its reader loads (ms) */
  leaseMs?: number;
  /** TTL of stored values (ms); 0 = none */
  ttlMs?: number;
}

export interface CacheRead<T> {
  value: T | null;
  /** served from Redis */
  hit: boolean;
  /** this read stored its load in Redis */
  stored: boolean;
}

export class CacheAside {
  private readonly leaseMs: number;
  private readonly ttlMs: number;

  constructor(
    private readonly redis: Redis,
    opts: CacheAsideOptions = {},
  ) {
    this.leaseMs = opts.leaseMs ?? 5000;
    this.ttlMs = opts.ttlMs ?? 0;
  }

  /**
   * The cached value of `key`, else `load()` from the database (stored when safe). `versionOf`
   * gives a loaded value's row version: (updated_at, drc_origin) — select `drc_origin` (an
   * invisible column) along with the row.
   */
  async get<T>(
    key: string,
    load: () => Promise<T | null>,
    versionOf: (value: T) => Version,
  ): Promise<CacheRead<T>> {
    const cached = await this.redis.get(key);
    if (cached !== null && !cached.startsWith('\u0000')) {
      return { value: JSON.parse(cached) as T, hit: true, stored: false };
    }
    const lease = `${LEASE_PREFIX}${randomBytes(9).toString('base64url')}`;
    const floor = (await this.redis.eval(CLAIM, 1, key, lease, this.leaseMs, INVALIDATED_PREFIX)) as
      | string
      | null;
    const value = await load();
    if (floor === null) return { value, hit: false, stored: false }; // another reader holds the key
    const res = await this.redis.eval(
      STORE,
      1,
      key,
      `${lease}|${floor}`,
      value === null ? '' : JSON.stringify(value),
      value === null ? '' : versionKey(versionOf(value)),
      this.ttlMs,
      INVALIDATED_PREFIX,
      INVALIDATED_TTL_MS,
    );
    return { value, hit: false, stored: res === 1 };
  }
}
