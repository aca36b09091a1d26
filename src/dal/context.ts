/**
 * What every session of one DAL shares: the routing source and the readiness rule, the classifier,
 * its accounts, the backend pool, the Global-Zone master, and the fence (DESIGN §6 step 1): when a
 * new table locks or moves away a shard, open transactions that wrote it are rolled back (at once
 * if idle, after their statement if busy) and the DAL acknowledges that epoch to GZS only once no
 * session still has such a transaction or such a write in flight — so the position a switch notes
 * after every DAL acknowledged is final.
 */
import mysql from 'mysql2/promise';
import type { Logger } from 'pino';
import { ownSequence } from '../drc/index.js';
import { checkWrite, type RoutingTable, shardOfOrderId, shardOrderLockOf } from '../routing/index.js';
import type { RoutingSource } from '../sdk/index.js';
import { Backend, type MariaDbAddress } from './backend.js';
import type { DalMetrics } from './metrics.js';
import type { DalSession } from './session.js';
import type { StatementClassifier } from './sql/index.js';

export interface DalContextOptions {
  zone: string;
  masterZone: string;
  masterServerId: number;
  database: string;
  local: MariaDbAddress;
  /** the master eZone's MariaDB as this eZone reaches it (the link `<zone>-><master>:global`) */
  master: MariaDbAddress;
  /** the account the DAL accepts and logs in to its backends with */
  account: { user: string; password: string; hash: Buffer };
  classifier: StatementClassifier;
  metrics: DalMetrics;
  log: Logger;
  server: { version: string; capabilities: number; charset: number };
  maxPacketBytes: number;
  rywTimeoutMs: number;
  /** idle backend connections kept per (capabilities, charset) */
  poolSize: number;
}

export class DalContext {
  readonly zone: string;
  readonly masterZone: string;
  readonly isMaster: boolean;
  readonly classifier: StatementClassifier;
  readonly metrics: DalMetrics;
  readonly log: Logger;
  readonly server: DalContextOptions['server'];
  readonly maxPacketBytes: number;
  readonly rywTimeoutMs: number;
  readonly accounts: Map<string, { hash: Buffer }>;
  readonly sessions = new Set<DalSession>();
  private readonly pool = new Map<string, Backend[]>();
  /** the newest epoch the DAL may acknowledge (see ackableEpoch) */
  private ackable: number;
  /** the epoch of GZS's table seen in this process's life (readiness) */
  private heardFromGzs = false;
  private fallbackToCache = false;
  private fencing: Promise<void> = Promise.resolve();
  /** none until the routing source is attached: until then every write is EZ_NOT_READY */
  private source: RoutingSource | null = null;
  private waitingNow = 0;

  constructor(private readonly o: DalContextOptions) {
    this.zone = o.zone;
    this.masterZone = o.masterZone;
    this.isMaster = o.zone === o.masterZone;
    this.classifier = o.classifier;
    this.metrics = o.metrics;
    this.log = o.log;
    this.server = o.server;
    this.maxPacketBytes = o.maxPacketBytes;
    this.rywTimeoutMs = o.rywTimeoutMs;
    this.accounts = new Map([[o.account.user, { hash: o.account.hash }]]);
    this.ackable = 0;
  }

  /** The routing source: from now on writes are judged at its epoch, and its tables fence. */
  attach(source: RoutingSource): void {
    this.source = source;
    // nothing was written before (no source, no writes): the held epoch is fenced already
    this.ackable = source.epoch;
    source.onTable((t) => this.onTable(t));
  }

  /** The table writes are judged with; only called once ready() (a source is attached). */
  get table(): RoutingTable {
    if (!this.source) throw new Error('the DAL has no routing table yet');
    return this.source.table;
  }

  get epoch(): number {
    return this.source?.epoch ?? 0;
  }

  private lockIndex: { table: RoutingTable; byShard: Map<number, string> } | null = null;

  /**
   * Why orders of `shard` are locked at order level (DESIGN §6 failover: an explicit lock or the
   * shard's rule), if they are: a statement that may touch any order of the shard (no order id in
   * it) is refused while so.
   */
  lockedOrderOf(table: RoutingTable, shard: number): string | undefined {
    const rule = shardOrderLockOf(table, shard);
    if (rule) return rule;
    if (this.lockIndex?.table !== table) {
      const byShard = new Map<number, string>();
      for (const id of Object.keys(table.orderLocks)) {
        try {
          const s = shardOfOrderId(id);
          if (!byShard.has(s)) byShard.set(s, id);
        } catch {
          // not an order id: it cannot be a row of a sharded table either
        }
      }
      this.lockIndex = { table, byShard };
    }
    const id = this.lockIndex.byShard.get(shard);
    return id === undefined ? undefined : `order ${id} is locked`;
  }

  get fenceWaitingCount(): number {
    return this.waitingNow;
  }

  /**
   * May writes be served? Once GZS's table was received in this process's life; or, when GZS
   * could not be reached at start, from the SDK cache file GZS's own tables were written to
   * (availability first; /healthz says `routingFrom: cache`).
   */
  ready(): boolean {
    return this.source !== null && (this.heardFromGzs || this.fallbackToCache);
  }

  markHeard(from: 'gzs' | 'cache' | 'static'): void {
    if (from === 'gzs' || from === 'static') this.heardFromGzs = true;
    else this.fallbackToCache = true;
  }

  // ---- backends -----------------------------------------------------------------------------

  async openBackend(o: { capabilities: number; charset: number; database: string | null }): Promise<Backend> {
    const key = `${o.capabilities}:${o.charset}`;
    // pooled connections are all on the topology's database (see releaseBackend)
    const idle = !o.database || o.database === this.o.database ? this.pool.get(key) : undefined;
    while (idle && idle.length > 0) {
      const b = idle.pop()!;
      if (!b.alive) continue;
      this.metrics.pool('reused');
      return b;
    }
    this.metrics.pool('opened');
    return Backend.connect({
      ...this.o.local,
      user: this.o.account.user,
      password: this.o.account.password,
      database: o.database ?? this.o.database,
      capabilities: o.capabilities,
      charset: o.charset,
    });
  }

  /**
   * A backend back from a closed session: reset (its session state gone: variables, prepared
   * statements, temporary tables, named locks) and kept, or closed. COM_RESET_CONNECTION keeps
   * the current database, so a connection that left the topology's database is closed.
   */
  async releaseBackend(b: Backend, inTxn: boolean, database: string | null): Promise<void> {
    if (!b.alive || inTxn || (database !== null && database !== this.o.database)) {
      b.destroy();
      return;
    }
    const key = `${b.requested}:${b.charsetId}`;
    const idle = this.pool.get(key) ?? [];
    if (idle.length >= this.o.poolSize) {
      b.destroy();
      return;
    }
    const r = await b.reset().catch(() => false);
    if (!r) {
      b.destroy();
      return;
    }
    idle.push(b);
    this.pool.set(key, idle);
  }

  openMaster(charset: number): Promise<Backend> {
    return Backend.connect({
      ...this.o.master,
      user: this.o.account.user,
      password: this.o.account.password,
      database: this.o.database,
      capabilities: 0x1 | 0x200 | 0x2000 | 0x8000 | 0x20000 | 0x80000,
      charset,
      connectTimeoutMs: 3000,
    });
  }

  /** Wait until this eZone's DRC checkpoint from the master covers `seq` of the master's domain. */
  async waitReplicated(seq: bigint): Promise<boolean> {
    const local = this.o.local;
    const c = await mysql.createConnection({
      ...('socket' in local ? { socketPath: local.socket } : local),
      user: this.o.account.user,
      password: this.o.account.password,
      database: this.o.database,
      connectTimeout: 2000,
    });
    const deadline = performance.now() + this.rywTimeoutMs;
    const t0 = performance.now();
    try {
      for (;;) {
        const [rows] = await c.query('SELECT gtid_pos FROM drc_checkpoint WHERE source_zone = ?', [
          this.masterZone,
        ]);
        const pos = String((rows as { gtid_pos?: string }[])[0]?.gtid_pos ?? '');
        if (ownSequence(pos, this.o.masterServerId) >= seq) {
          this.metrics.rywWait(performance.now() - t0, true);
          return true;
        }
        if (performance.now() >= deadline) {
          this.metrics.rywWait(performance.now() - t0, false);
          return false;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      await c.end().catch(() => c.destroy());
    }
  }

  // ---- fencing ------------------------------------------------------------------------------

  /** The shards a session may not keep writing under `table`: those its transaction or statement wrote. */
  private blocked(s: DalSession, table: RoutingTable): number[] {
    const out: number[] = [];
    const seen = new Set<number>([...s.txnShards, ...s.inflightShards]);
    for (const shard of seen) if (!checkWrite(table, this.zone, shard).ok) out.push(shard);
    return out;
  }

  /** A new table arrived: fence every session it concerns, then acknowledge when they are done. */
  onTable(table: RoutingTable): void {
    this.fencing = this.fencing.then(async () => {
      for (const s of this.sessions) {
        const shards = this.blocked(s, table);
        if (shards.length === 0 || !s.inTxn) continue;
        if (s.busy) s.fenceWhenIdle = true;
        else await s.fenceNow(shards[0], `switch at epoch ${table.epoch}`);
      }
      this.recompute();
    });
  }

  /** A session's state changed (its transaction ended, a statement finished). */
  onSessionChange(_s: DalSession): void {
    this.recompute();
  }

  onSessionClosed(s: DalSession): void {
    this.sessions.delete(s);
    this.recompute();
  }

  async fence(s: DalSession): Promise<void> {
    if (!this.source) return;
    const shards = this.blocked(s, this.table);
    if (shards.length > 0 && s.inTxn) await s.fenceNow(shards[0], `switch at epoch ${this.table.epoch}`);
  }

  /** Advance the acknowledgeable epoch when no session blocks the newest table. */
  private recompute(): void {
    if (!this.source) return;
    const table = this.source.table;
    if (this.ackable >= table.epoch) return;
    let waiting = 0;
    for (const s of this.sessions) {
      const b = this.blocked(s, table);
      if (b.length > 0 && (s.inTxn || s.inflightShards.size > 0)) waiting++;
    }
    this.waitingNow = waiting;
    this.metrics.fenceWaiting(waiting);
    if (waiting > 0) return;
    this.ackable = table.epoch;
    this.onAckable?.(table.epoch);
  }

  /** The SDK's ack gate: the newest epoch whose fences are complete. */
  ackableEpoch(held: number): number {
    return this.source ? Math.min(held, this.ackable) : held;
  }

  /** set by the server: tell the SDK to acknowledge now */
  onAckable: ((epoch: number) => void) | undefined;

  get acknowledgeable(): number {
    return this.ackable;
  }

  /** Sessions with an open transaction (for metrics and /healthz). */
  openTransactions(): number {
    let n = 0;
    for (const s of this.sessions) if (s.inTxn) n++;
    return n;
  }

  async close(): Promise<void> {
    for (const list of this.pool.values()) for (const b of list) b.destroy();
    this.pool.clear();
  }
}
