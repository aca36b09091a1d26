/**
 * The order locks of a failover clear by themselves (DESIGN §6): the replicator A → B watches
 * GZS's order-lock rules left by A's failover on shards B now owns. Once A answers again, it notes
 * A's binlog position; once B's checkpoint covers it, everything A committed before (its tail,
 * including what it wrote before it died) has been applied at B, and it asks GZS to clear those
 * rules (`order-lock-rule-clear`, kept in GZS history with the position).
 */
import mysql, { type ConnectionOptions } from 'mysql2/promise';
import type { GzsApi } from '../gzs/index.js';
import type { Topology, ZoneId } from '../topology/index.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { Wakeable } from '../util/wakeable.js';
import { serverIdOf } from './names.js';
import { checkpointOf, currentPosition, ownSequence } from './wait.js';

export interface LockClearOptions {
  gzs: GzsApi;
  topology: Topology;
  from: ZoneId;
  to: ZoneId;
  /** A's MariaDB as B reaches it (the replicator's current source), as DRC's reader */
  source: () => ConnectionOptions | null;
  /** B's MariaDB */
  target: ConnectionOptions;
  log: Logger;
  /** how often GZS's rules are looked at (default 1 s) */
  pollMs?: number;
}

export class OrderLockClearer {
  private stopped = false;
  private loop: Promise<void> | null = null;
  private readonly idle = new Wakeable();
  /** A's position noted after it answered again, for the rules seen then */
  private pending: { seq: bigint; gtidPos: string; shards: number[] } | null = null;
  lastError: string | null = null;
  cleared = 0;

  constructor(private readonly o: LockClearOptions) {}

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        try {
          await this.tick();
          this.lastError = null;
        } catch (err) {
          this.lastError = errorMessage(err); // A or GZS away: try again next round
        }
        await this.idle.sleep(this.o.pollMs ?? 1000);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.idle.wake();
    await this.loop;
  }

  status() {
    return {
      waitingFor: this.pending ? { shards: this.pending.shards, position: this.pending.gtidPos } : null,
      cleared: this.cleared,
      lastError: this.lastError,
    };
  }

  private async tick(): Promise<void> {
    const { o } = this;
    const { table } = await o.gzs.table();
    // rules A's failover left on shards this replicator's target owns now
    const shards = Object.entries(table.orderLockRules ?? {})
      .filter(([shard, r]) => r.zone === o.from && table.shards[shard]?.zone === o.to)
      .map(([shard]) => Number(shard));
    if (shards.length === 0) {
      this.pending = null;
      return;
    }
    const sid = serverIdOf(o.topology, o.from);
    if (!this.pending || shards.some((s) => !this.pending!.shards.includes(s))) {
      const source = o.source();
      if (!source) return;
      const a = await mysql.createConnection({ connectTimeout: 2000, ...source });
      try {
        const p = await currentPosition(a, sid);
        this.pending = { ...p, shards };
        o.log.info(
          { shards, position: p.gtidPos },
          `${o.from} answers again: its order-lock rules clear once ${o.to} has applied this position`,
        );
      } finally {
        await a.end().catch(() => a.destroy());
      }
    }
    const b = await mysql.createConnection({ connectTimeout: 2000, ...o.target });
    let checkpoint: string;
    try {
      checkpoint = await checkpointOf(b, o.from);
    } finally {
      await b.end().catch(() => b.destroy());
    }
    const pending = this.pending;
    if (ownSequence(checkpoint, sid) < pending.seq) return;
    const r = await o.gzs.changes([
      {
        op: 'order-lock-rule-clear',
        zone: o.from,
        shards: pending.shards,
        reason: `${o.from}'s tail applied at ${o.to} (up to ${pending.gtidPos}; checkpoint ${checkpoint})`,
      },
    ]);
    this.cleared += pending.shards.length;
    o.log.info(
      { shards: pending.shards, epoch: r.epoch, position: pending.gtidPos },
      'order-lock rules cleared: the tail is applied',
    );
    this.pending = null;
  }
}
