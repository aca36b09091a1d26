/**
 * Acknowledgements (DESIGN §6 step 1): every SDK holder reports the epoch it holds with a lease.
 * "Have all live holders acknowledged epoch E?" is true when every holder whose lease has not
 * expired holds ≥ E: a holder that stopped reporting stops blocking once its lease runs out; one
 * that closed cleanly (`bye`) stops blocking at once.
 *
 * With several GZS instances (ZooKeeper store) each instance publishes the heartbeats it received
 * and reads the others' (see ZkStore); `merge` keeps, per holder, the newest heartbeat seen by any
 * instance. Lease times are wall-clock ms, so the instances' clocks must agree (same host or NTP).
 */
import type { AckHolder, AckReport, Holder } from '../shared/gzs-protocol.js';

export interface AckEntry {
  id: string;
  kind: string;
  zone: string | null;
  epoch: number;
  seenAt: number;
  leaseExpiresAt: number;
  via: string;
}

/** How long an expired holder stays listed (as not live) before it is forgotten. */
const FORGET_AFTER_LEASES = 20;

export class AckLedger {
  private readonly own = new Map<string, AckEntry>();
  /** what the other GZS instances published, by instance id */
  private readonly remote = new Map<string, AckEntry[]>();
  /** bumped on every local change that others should see (a new holder or a new epoch) */
  private dirtyEpochs = false;

  constructor(
    readonly instance: string,
    readonly leaseMs: number,
    /** holders are not trusted to be complete before this time (one lease after start) */
    readonly warmUntil: number,
  ) {}

  /** A heartbeat: `holder` holds `epoch` now. Returns true when this is news (new holder or epoch). */
  heartbeat(holder: Holder, epoch: number, now = Date.now()): boolean {
    const prev = this.own.get(holder.id);
    const news = !prev || prev.epoch !== epoch || prev.leaseExpiresAt < now;
    this.own.set(holder.id, {
      id: holder.id,
      kind: holder.kind,
      zone: holder.zone ?? null,
      epoch,
      seenAt: now,
      leaseExpiresAt: now + this.leaseMs,
      via: this.instance,
    });
    if (news) this.dirtyEpochs = true;
    return news;
  }

  /** A clean goodbye: the holder no longer routes. */
  release(id: string): void {
    if (this.own.delete(id)) this.dirtyEpochs = true;
  }

  /** true once since the last call when a holder appeared, left or changed its epoch */
  takeDirty(): boolean {
    const d = this.dirtyEpochs;
    this.dirtyEpochs = false;
    return d;
  }

  /** This instance's entries, for publishing; forgets long-expired ones. */
  ownEntries(now = Date.now()): AckEntry[] {
    const out: AckEntry[] = [];
    for (const [id, e] of this.own) {
      if (e.leaseExpiresAt + FORGET_AFTER_LEASES * this.leaseMs < now) this.own.delete(id);
      else out.push(e);
    }
    return out;
  }

  setRemote(instance: string, entries: AckEntry[] | undefined): void {
    if (instance === this.instance) return; // our own published copy is older than memory
    if (entries) this.remote.set(instance, entries);
    else this.remote.delete(instance);
  }

  /** Per holder, the newest heartbeat seen by any instance. */
  merged(now = Date.now()): AckEntry[] {
    const best = new Map<string, AckEntry>();
    const consider = (e: AckEntry): void => {
      const b = best.get(e.id);
      if (!b || e.seenAt > b.seenAt) best.set(e.id, e);
    };
    for (const e of this.ownEntries(now)) consider(e);
    for (const list of this.remote.values()) for (const e of list) consider(e);
    return [...best.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  report(epoch: number, now = Date.now()): AckReport {
    const holders: AckHolder[] = this.merged(now).map((e) => ({ ...e, live: e.leaseExpiresAt > now }));
    const liveOnes = holders.filter((h) => h.live);
    const waitingFor = liveOnes.filter((h) => h.epoch < epoch).map((h) => h.id);
    const warmingUp = now < this.warmUntil;
    return {
      epoch,
      allAcked: !warmingUp && waitingFor.length === 0,
      warmingUp,
      live: liveOnes.length,
      acked: liveOnes.length - waitingFor.length,
      waitingFor,
      holders,
    };
  }
}
