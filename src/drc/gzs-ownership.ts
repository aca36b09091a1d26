/**
 * Who owned a shard when a replicated row was written, answered from GZS's ownership log (GET
 * /ownership): the input of DRC's illegal-write report. A read-only SDK client hears every new
 * epoch within milliseconds and makes the log be read again at once, so the log is known up to
 * (almost) now while GZS answers. Never a guess: a time the log does not cover yet is answered
 * from the newest log known and marked provisional; a time before what GZS retains is unknown.
 */
import { GzsApi, mergeOwnership, ownershipView } from '../gzs/index.js';
import { RoutingClient } from '../sdk/index.js';
import type { OwnershipAnswer } from '../shared/gzs-protocol.js';
import type { Topology } from '../topology/index.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { Wakeable } from '../util/wakeable.js';
import type { Ownership, OwnershipSource } from './ownership.js';

/**
 * While the push channel is up and no newer epoch was pushed than the log held, a change GZS
 * accepted more than this long ago would have reached us: the log is known up to now minus this.
 */
const PUSH_MARGIN_MS = 20;

export interface GzsOwnershipOptions {
  /** GZS base URLs as this replicator's eZone reaches them */
  gzs: readonly string[];
  topology: Topology;
  /** see OwnershipSource.graceMs (default 0) */
  graceMs?: number;
  log: Logger;
  /** how often the log is polled (default 1 s; a write newer than the log makes it poll at once) */
  pollMs?: number;
  /** per request (default 2 s) */
  timeoutMs?: number;
}

export class GzsOwnership implements OwnershipSource {
  private readonly api: GzsApi;
  private answer: OwnershipAnswer | null = null;
  private globalMaster: { zone: string; epoch: number } | null = null;
  private lastError = '';
  private stopped = false;
  private loop: Promise<void> | null = null;
  private readonly idle = new Wakeable();
  private fetching: Promise<boolean> | null = null;
  private readonly waiters = new Set<() => void>();
  private push: RoutingClient | null = null;
  readonly graceMs: number;

  constructor(private readonly o: GzsOwnershipOptions) {
    this.api = new GzsApi([...o.gzs], { timeoutMs: o.timeoutMs ?? 2000 });
    this.graceMs = o.graceMs ?? 0;
  }

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        await this.refresh();
        await this.idle.sleep(this.o.pollMs ?? 1000);
      }
    })();
    void this.subscribe();
  }

  /** The push channel (read-only: this replicator holds no routing decisions GZS must wait for). */
  private async subscribe(): Promise<void> {
    while (!this.stopped && !this.push) {
      try {
        const c = await RoutingClient.start({
          gzs: this.o.gzs,
          topology: this.o.topology,
          startTimeoutMs: 5000,
        });
        if (this.stopped) {
          await c.close();
          return;
        }
        c.onTable(() => void this.refresh());
        this.push = c;
      } catch {
        await this.idle.sleep(1000); // GZS away: the poll loop logs it; try the channel again
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.idle.wake();
    for (const w of this.waiters) w();
    await this.loop;
    await this.push?.close();
  }

  /** Until when ownership is known (ms since the Unix epoch; 0: never read). */
  get knownUntil(): number {
    const a = this.answer;
    if (!a) return 0;
    const p = this.push;
    if (p && p.state === 'connected' && p.epoch <= a.epoch)
      return Math.max(a.now, Date.now() - PUSH_MARGIN_MS);
    return a.now;
  }

  status() {
    return {
      gzs: this.o.gzs,
      pushChannel: this.push?.state ?? 'none',
      graceMs: this.graceMs,
      epoch: this.answer?.epoch ?? null,
      knownUntil: this.answer ? new Date(this.answer.now).toISOString() : null,
      retainedFrom: this.answer?.retainedFrom ?? null,
      lastError: this.lastError || null,
    };
  }

  /** One poll (coalesced): true when GZS answered. */
  refresh(): Promise<boolean> {
    this.fetching ??= this.fetch().finally(() => {
      this.fetching = null;
    });
    return this.fetching;
  }

  private async fetch(): Promise<boolean> {
    try {
      const since = this.answer?.epoch;
      const next = await this.api.ownership(since);
      this.answer = this.answer && next.base === null ? mergeOwnership(this.answer, next) : next;
      if (!this.globalMaster || this.globalMaster.epoch < next.epoch) {
        const { table } = await this.api.table();
        this.globalMaster = { zone: table.globalMaster, epoch: table.epoch };
      }
      if (this.lastError) this.o.log.info({ epoch: next.epoch }, 'ownership: GZS answers again');
      this.lastError = '';
      for (const w of this.waiters) w();
      return true;
    } catch (err) {
      const msg = errorMessage(err);
      if (msg !== this.lastError) this.o.log.warn({ err: msg }, 'ownership: cannot read GZS ownership log');
      this.lastError = msg;
      return false;
    }
  }

  /**
   * Wait (up to `waitMs`) until the log covers `whenMs` — but never for a write stamped in the
   * future by this host's clock (a skewed writer) nor while GZS does not answer: replication
   * must not slow down because of the audit; such verdicts are provisional instead.
   */
  async freshUntil(whenMs: number, waitMs: number): Promise<boolean> {
    if (this.knownUntil >= whenMs) return true;
    if (whenMs > Date.now() + PUSH_MARGIN_MS || this.lastError !== '' || !this.answer) {
      void this.refresh();
      return false;
    }
    const deadline = performance.now() + waitMs;
    while (this.knownUntil < whenMs && !this.stopped && performance.now() < deadline) {
      // a push in flight or a poll under way moves knownUntil on; GZS away: the deadline ends it
      if (this.knownUntil + PUSH_MARGIN_MS < whenMs || !this.push) void this.refresh();
      await new Promise<void>((r) => {
        const done = () => {
          clearTimeout(t);
          this.waiters.delete(done);
          r();
        };
        const t = setTimeout(done, 5);
        this.waiters.add(done);
      });
    }
    return this.knownUntil >= whenMs;
  }

  ownerAt(shard: number, whenMs: number): Ownership | undefined {
    return this.answer ? ownerFromLog(this.answer, this.knownUntil, shard, whenMs) : undefined;
  }

  globalMasterAt(): { zone: string; epoch: number } | undefined {
    return this.globalMaster ?? undefined;
  }
}

/**
 * The owner of `shard` at `whenMs` from a GZS ownership answer known up to `knownUntil`: exact
 * within it; newer than it, the newest known owner marked provisional; before what GZS retains
 * (or a shard it does not know), undefined.
 */
export function ownerFromLog(
  answer: OwnershipAnswer,
  knownUntil: number,
  shard: number,
  whenMs: number,
): Ownership | undefined {
  const view = ownershipView(answer);
  // within what the push channel vouches for, the newest log answers exactly
  const at = whenMs > view.now && whenMs <= knownUntil ? view.now : whenMs;
  const exact = view.ownerAt(shard, at);
  if (exact) return { zone: exact.zone, epoch: exact.epoch };
  if (whenMs > view.now) {
    const newest = view.ownerAt(shard, view.now);
    return newest ? { zone: newest.zone, epoch: newest.epoch, provisional: true } : undefined;
  }
  return undefined;
}

/** An OwnershipSource over one fixed answer (tools, tests): known up to the answer's own time. */
export function answerOwnership(
  answer: OwnershipAnswer,
  globalMaster: { zone: string; epoch: number },
  graceMs = 0,
): OwnershipSource {
  return {
    graceMs,
    ownerAt: (shard, whenMs) => ownerFromLog(answer, answer.now, shard, whenMs),
    globalMasterAt: () => globalMaster,
  };
}
