/**
 * Change broadcast and cache invalidation of one eZone: reads the LOCAL binlog (every origin:
 * local writes and DRC applies alike), and for each committed change of a table with a
 * `cacheKey` deletes the row's cached value — the key becomes a 60 s marker holding the
 * version of the change, the floor below which readers may not store (cache-aside.ts) — and
 * publishes the change on the stream `ez:changes` (XADD … MAXLEN ~ 100000), in one MULTI per
 * batch of transactions, together with its own position (so a restart re-invalidates from there;
 * invalidating twice is harmless).
 */

import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { Counter, Gauge, Histogram, type Registry, Summary } from 'prom-client';
import type { SourceTxn, TableSpec } from '../drc/index.js';
import { BinlogSource, readerServerId, summaryMs, zoneOfServerId } from '../drc/index.js';
import { type MysqlAccount, mysqlAccount } from '../shared/mysql-accounts.js';
import { formatVersion, nowUs, pkKey, updatedAtToUs, versionOf } from '../shared/row-version.js';
import { redisPassword } from '../shared/secrets.js';
import type { Topology, ZoneId } from '../topology/index.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { createRegistry, type Health } from '../util/ops.js';
import { runSessions } from '../util/session-loop.js';
import { Wakeable } from '../util/wakeable.js';
import { INVALIDATED_PREFIX, INVALIDATED_TTL_MS, versionKey } from './cache-aside.js';
import { compileKeyPattern } from './key-pattern.js';

export const CHANGES_STREAM = 'ez:changes';
export const positionKey = (zone: ZoneId): string => `ez:invalidator:${zone}:pos`;

export interface InvalidatorOptions {
  topology: Topology;
  zone: ZoneId;
  mysql: { host: string; port: number };
  /** the eZone's Redis; password default EZ_REDIS_PASSWORD (none when unset) */
  redis: { host: string; port: number; password?: string };
  log: Logger;
  stream?: string;
  /** approximate length the stream is trimmed to */
  maxLen?: number;
  stallTimeoutMs?: number;
  account?: MysqlAccount;
}

type State = 'starting' | 'running' | 'reconnecting' | 'stopping';

const LAG_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];

export class Invalidator {
  readonly registry: Registry;
  state: State = 'starting';
  private stopping = false;
  private readonly idle = new Wakeable();
  private loop: Promise<void> | null = null;
  private readonly cached: Map<string, { spec: TableSpec; key: ReturnType<typeof compileKeyPattern> }>;
  private readonly serverId: number;
  private readonly account: MysqlAccount;
  private position = '';
  private lastError: { at: string; message: string } | null = null;
  private totals = { keys: 0, changes: 0, transactions: 0, errors: 0 };
  private readonly m: {
    keys: Counter;
    changes: Counter;
    errors: Counter<'kind'>;
    state: Gauge<'state'>;
    lag: Histogram<'origin'>;
    lagQ: Summary<'origin'>;
    batch: Histogram;
  };

  constructor(private readonly o: InvalidatorOptions) {
    const z = o.topology.zones.find((x) => x.id === o.zone);
    if (!z) throw new Error(`unknown eZone "${o.zone}"`);
    this.serverId = z.serverId;
    this.account = o.account ?? mysqlAccount('reader');
    this.cached = new Map(
      o.topology.tables
        .filter((t) => t.cacheKey)
        .map((t) => [t.name, { spec: { ...t }, key: compileKeyPattern(t.cacheKey!) }]),
    );
    this.registry = createRegistry('invalidator');
    this.registry.setDefaultLabels({ part: 'invalidator', zone: o.zone });
    const registers = [this.registry];
    this.m = {
      keys: new Counter({
        name: 'ezinv_invalidated_keys_total',
        help: 'Redis keys invalidated (value replaced by the version marker)',
        registers,
      }),
      changes: new Counter({
        name: 'ezinv_published_changes_total',
        help: `Row changes published on ${o.stream ?? CHANGES_STREAM}`,
        registers,
      }),
      errors: new Counter({
        name: 'ezinv_errors_total',
        help: 'Errors by kind (binlog, redis, stall)',
        labelNames: ['kind'],
        registers,
      }),
      state: new Gauge({
        name: 'ezinv_state',
        help: 'Invalidator state (1 for the current one)',
        labelNames: ['state'],
        registers,
      }),
      lag: new Histogram({
        name: 'ezinv_commit_to_invalidation_seconds',
        help: "Key deleted minus the row's updated_at (origin=local: writers set updated_at = commit time on this clock; origin=replicated includes replication lag)",
        labelNames: ['origin'],
        buckets: LAG_BUCKETS,
        registers,
      }),
      lagQ: new Summary({
        name: 'ezinv_commit_to_invalidation_quantiles_seconds',
        help: 'Commit to invalidation quantiles over the last 60 s',
        labelNames: ['origin'],
        percentiles: [0.5, 0.99, 0.999],
        maxAgeSeconds: 60,
        ageBuckets: 6,
        registers,
      }),
      batch: new Histogram({
        name: 'ezinv_batch_transactions',
        help: 'Transactions per Redis MULTI',
        buckets: [1, 2, 5, 10, 20, 50, 100, 500, 1000],
        registers,
      }),
    };
    this.setState('starting');
  }

  private setState(s: State): void {
    if (s !== this.state) this.o.log.info({ from: this.state, to: s }, 'state');
    this.state = s;
    for (const x of ['starting', 'running', 'reconnecting', 'stopping'])
      this.m.state.set({ state: x }, x === s ? 1 : 0);
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.setState('stopping');
    this.idle.wake();
    await this.loop;
  }

  private run(): Promise<void> {
    return runSessions({
      stopped: () => this.stopping,
      session: () => this.session(),
      onFailure: (err, attempt, delay) => {
        const kind = (err as { invKind?: string }).invKind ?? 'session';
        this.m.errors.inc({ kind });
        this.totals.errors++;
        this.lastError = { at: new Date().toISOString(), message: errorMessage(err) };
        this.setState('reconnecting');
        this.o.log.warn(
          { attempt, delayMs: delay, kind, err: errorMessage(err) },
          'session failed: reconnecting after backoff',
        );
      },
      sleep: (ms) => this.idle.sleep(ms),
    });
  }

  private tag(err: unknown, kind: string): Error {
    const e = err instanceof Error ? err : new Error(String(err));
    (e as { invKind?: string }).invKind ??= kind;
    return e;
  }

  private async session(): Promise<void> {
    const o = this.o;
    const redis = new Redis({
      host: o.redis.host,
      port: o.redis.port,
      password: o.redis.password ?? redisPassword(),
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      retryStrategy: () => null, // this loop reconnects, with its own backoff and logs
    });
    redis.on('error', () => undefined);
    let src: BinlogSource | null = null;
    try {
      await redis.connect().catch((err) => {
        throw this.tag(err, 'redis');
      });
      // where to start: our last position, else the one stored with the cache, else the current end
      // (a cache without a stored position is new or was restarted empty: nothing in it is stale)
      const stored = await redis.get(positionKey(o.zone));
      const from = this.position || stored || (await this.binlogEnd());
      this.position = from;
      const queue: SourceTxn[] = [];
      let failure: Error | null = null;
      src = new BinlogSource({
        host: o.mysql.host,
        port: o.mysql.port,
        user: this.account.user,
        password: this.account.password,
        readerId: readerServerId(`inv:${o.zone}`),
        database: o.topology.database,
        tables: new Set(this.cached.keys()),
        from,
        onTxn: (t) => {
          queue.push(t);
          this.idle.wake();
        },
        onError: (err) => {
          failure = this.tag(err, 'binlog');
          this.idle.wake();
        },
      });
      src.start();
      this.setState('running');
      o.log.info({ from: from || '(oldest binlog)' }, 'session: reading the local binlog');
      const stallMs = o.stallTimeoutMs ?? 5000;
      let lastWrite = performance.now();
      while (!this.stopping) {
        if (failure) throw failure;
        if (queue.length === 0) {
          if (performance.now() - src.lastEventAt > stallMs)
            throw this.tag(new Error(`no binlog event for ${stallMs / 1000} s`), 'stall');
          await this.idle.sleep(250);
          continue;
        }
        const batch = queue.splice(0, 1000);
        const changed = batch.some((t) => t.changes.length > 0);
        const pos = batch[batch.length - 1].position.gtidPos;
        if (!changed && performance.now() - lastWrite < 1000) {
          this.position = pos;
          continue;
        }
        await this.invalidate(redis, batch, pos).catch((err) => {
          throw this.tag(err, 'redis');
        });
        lastWrite = performance.now();
        this.position = pos;
      }
    } finally {
      await src?.stop();
      redis.disconnect();
    }
  }

  private async invalidate(redis: Redis, batch: readonly SourceTxn[], pos: string): Promise<void> {
    const o = this.o;
    const stream = o.stream ?? CHANGES_STREAM;
    const maxLen = String(o.maxLen ?? 100_000);
    const multi = redis.multi();
    const samples: { at: number; local: boolean }[] = [];
    let keys = 0;
    let changes = 0;
    for (const t of batch) {
      if (t.changes.length === 0) continue;
      const origin = zoneOfServerId(o.topology, t.serverId) ?? String(t.serverId);
      const local = t.serverId === this.serverId;
      for (const c of t.changes) {
        const tb = this.cached.get(c.table);
        if (!tb) continue;
        const img = (c.after ?? c.before)!;
        const version = versionOf(img, tb.spec.updatedAt, t.serverId);
        const ks = new Set<string>();
        for (const r of [c.before, c.after]) {
          const k = r ? tb.key(r) : null;
          if (k) ks.add(k);
        }
        // the value goes; the version it was invalidated at stays as a floor (cache-aside.ts)
        const marker = `${INVALIDATED_PREFIX}${versionKey(version)}`;
        for (const k of ks) multi.set(k, marker, 'PX', INVALIDATED_TTL_MS);
        keys += ks.size;
        changes++;
        multi.xadd(
          stream,
          'MAXLEN',
          '~',
          maxLen,
          '*',
          'table',
          c.table,
          'op',
          c.op,
          'pk',
          pkKey(img, tb.spec.primaryKey),
          'key',
          [...ks].join(' '),
          'origin',
          origin,
          'version',
          formatVersion(version),
          'gtid',
          t.gtid,
        );
        const at = updatedAtToUs(img[tb.spec.updatedAt]);
        if (Number.isFinite(at)) samples.push({ at, local });
      }
    }
    multi.set(positionKey(o.zone), pos);
    const res = await multi.exec();
    const failed = res?.find(([err]) => err);
    if (!res || failed) throw failed?.[0] ?? new Error('Redis MULTI aborted');
    const done = nowUs();
    for (const s of samples) {
      const sec = Math.max(0, (done - s.at) / 1e6);
      const origin = s.local ? 'local' : 'replicated';
      this.m.lag.observe({ origin }, sec);
      this.m.lagQ.observe({ origin }, sec);
    }
    this.m.keys.inc(keys);
    this.m.changes.inc(changes);
    this.m.batch.observe(batch.length);
    this.totals.keys += keys;
    this.totals.changes += changes;
    this.totals.transactions += batch.length;
  }

  private async binlogEnd(): Promise<string> {
    const c = await mysql.createConnection({
      host: this.o.mysql.host,
      port: this.o.mysql.port,
      user: this.account.user,
      password: this.account.password,
      connectTimeout: 5000,
    });
    try {
      const [rows] = await c.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos');
      return String((rows as { pos: string }[])[0].pos);
    } catch (err) {
      throw this.tag(err, 'binlog');
    } finally {
      await c.end().catch(() => c.destroy());
    }
  }

  async health(): Promise<Health> {
    const q = (origin: string) => summaryMs(this.m.lagQ, { origin });
    return {
      ok: this.state === 'running',
      state: this.state,
      zone: this.o.zone,
      position: this.position,
      stream: this.o.stream ?? CHANGES_STREAM,
      commitToInvalidationMs: { local: await q('local'), replicated: await q('replicated') },
      ...this.totals,
      lastError: this.lastError,
    };
  }
}
