/**
 * The cache rule services follow (docs/drc.md "Cache invalidation"): cache-aside with leases.
 *
 * The invalidator deletes `order:{id}` after every committed change it reads from the local
 * binlog. The classic race — a reader loads the old row, the change commits and is invalidated,
 * then the reader puts the old row back — is closed by a lease in the key itself (the memcache
 * "lease" idea): on a miss the reader claims the key with a lease token (SET NX), loads from the
 * database, and stores the value only if its lease is still there (one Lua step). The
 * invalidator's DEL removes a lease too, so a load that may have read the old row can no longer
 * be stored. Result: once a change's invalidation has happened, no reader is served a version
 * older than that change.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

/** Cached values are JSON; a lease can never be mistaken for one. */
export const LEASE_PREFIX = '\u0000lease:';

const STORE_IF_LEASED = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) else redis.call('SET', KEYS[1], ARGV[2]) end
  return 1
end
return 0`;
const DROP_IF_LEASED = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 0`;

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

  async get<T>(key: string, load: () => Promise<T | null>): Promise<CacheRead<T>> {
    const cached = await this.redis.get(key);
    if (cached !== null && !cached.startsWith(LEASE_PREFIX)) {
      return { value: JSON.parse(cached) as T, hit: true, stored: false };
    }
    // a miss: claim the key unless another reader holds a lease on it
    const lease = `${LEASE_PREFIX}${randomBytes(9).toString('base64url')}`;
    const claimed = cached === null && (await this.redis.set(key, lease, 'PX', this.leaseMs, 'NX')) === 'OK';
    const value = await load();
    if (!claimed) return { value, hit: false, stored: false };
    if (value === null) {
      await this.redis.eval(DROP_IF_LEASED, 1, key, lease);
      return { value, hit: false, stored: false };
    }
    const stored = await this.redis.eval(STORE_IF_LEASED, 1, key, lease, JSON.stringify(value), this.ttlMs);
    return { value, hit: false, stored: stored === 1 };
  }
}
