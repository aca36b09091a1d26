/**
 * After a workload: wait, within a budget, until the cluster is whole again — every eZone's
 * MariaDB answers, GZS answers, every replicated table is identical in every eZone — and hand the
 * checkers one snapshot of it. Reads never throw: what cannot be read is part of the snapshot.
 */
import mysql from 'mysql2/promise';
import { GzsApi } from '../../src/gzs/index.js';
import type { OwnershipAnswer } from '../../src/shared/gzs-protocol.js';
import { mysqlAccount } from '../../src/shared/mysql-accounts.js';
import { partAddress, type Topology } from '../../src/topology/index.js';
import { errorMessage } from '../../src/util/errors.js';
import { digestConnection, readTableDigest, type TableDigest } from '../checkers/digest.js';
import type { StoredOrder, TableDigests, Unread, ZoneRows } from './checker.js';

/** What the checkers judge: one read of every eZone's database and of GZS. */
export interface ClusterSnapshot {
  /** per replicated table, per eZone that could be read */
  digests: TableDigests;
  /** the workload's orders as each readable eZone holds them (from the same read of `orders`) */
  orders: ZoneRows;
  /** eZones whose MariaDB could not be read, with why */
  unread: Unread;
  /** GZS's ownership log (owner of a shard at an epoch, kept by time), or why it could not be read */
  gzs: OwnershipAnswer | { error: string };
}

export interface DrainResult {
  snapshot: ClusterSnapshot;
  /** the snapshot shows a whole cluster */
  whole: boolean;
  timedOut: boolean;
  ms: number;
  /** what the drain waited for, once each, in the order first seen */
  waitedFor: string[];
  /** why the last snapshot is not whole ([] when it is) */
  notWhole: string[];
}

export interface DrainOptions {
  topology: Topology;
  gzsUrl: string;
  /** the workload's acknowledged orders */
  orderIds: string[];
  timeoutMs: number;
  /** called when the reasons to wait change */
  onWait?: (notWhole: string[]) => void;
}

/** One read may take this long at most, and gets at least the floor even past the deadline. */
const CALL_MAX_MS = 5_000;
const CALL_MIN_MS = 1_000;

export async function drainCluster(opts: DrainOptions): Promise<DrainResult> {
  const t0 = performance.now();
  const deadline = t0 + opts.timeoutMs;
  const waitedFor = new Map<string, string>();
  let pause = 100;
  let last = '';
  for (;;) {
    const callMs = Math.min(CALL_MAX_MS, Math.max(CALL_MIN_MS, deadline - performance.now()));
    const snapshot = await readCluster(opts.topology, opts.gzsUrl, opts.orderIds, callMs);
    const notWhole = wholeness(snapshot);
    const done = notWhole.length === 0;
    const timedOut = !done && performance.now() >= deadline;
    for (const p of notWhole) if (!waitedFor.has(p.what)) waitedFor.set(p.what, p.why);
    if (done || timedOut) {
      return {
        snapshot,
        whole: done,
        timedOut,
        ms: Math.round(performance.now() - t0),
        waitedFor: [...waitedFor].map(([what, why]) => `${what} (${why})`),
        notWhole: notWhole.map((p) => `${p.what} (${p.why})`),
      };
    }
    const now = notWhole.map((p) => p.what).join('; ');
    if (now !== last) opts.onWait?.(notWhole.map((p) => `${p.what} (${p.why})`));
    last = now;
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(pause, deadline - performance.now()))));
    pause = Math.min(1_000, pause * 2);
  }
}

/** Why a snapshot is not a whole cluster: `what` stays the same while the cause lasts. */
export function wholeness(s: ClusterSnapshot): { what: string; why: string }[] {
  const out: { what: string; why: string }[] = [];
  for (const [zone, why] of Object.entries(s.unread)) out.push({ what: `${zone} MariaDB`, why });
  if ('error' in s.gzs) out.push({ what: 'GZS', why: s.gzs.error });
  for (const [table, byZone] of Object.entries(s.digests)) {
    if (new Set(Object.values(byZone).map((d) => d.sha)).size < 2) continue;
    const counts = Object.entries(byZone)
      .map(([z, d]) => `${z} ${d.rows} rows`)
      .join(', ');
    out.push({ what: `${table} identical in every eZone`, why: `digests differ: ${counts}` });
  }
  return out;
}

/** Read every eZone's replicated tables and GZS's table and history, each within `callMs`. */
export async function readCluster(
  topology: Topology,
  gzsUrl: string,
  orderIds: string[],
  callMs: number,
): Promise<ClusterSnapshot> {
  const digests: TableDigests = Object.fromEntries(topology.tables.map((t) => [t.name, {}]));
  const orders: ZoneRows = {};
  const unread: Unread = {};
  const wanted = new Set(orderIds);
  const zones = Promise.all(
    topology.zones.map(async (z) => {
      try {
        return { zone: z.id, read: await readZone(topology, z.id, wanted, callMs) };
      } catch (err) {
        return { zone: z.id, error: brief(err) };
      }
    }),
  );
  const gzs = await readGzs(gzsUrl, callMs);
  // in the topology's eZone order, whichever answered first, so reports read the same every time
  for (const r of await zones) {
    if (!r.read) {
      unread[r.zone] = r.error;
      continue;
    }
    for (const [table, d] of Object.entries(r.read.digests)) digests[table][r.zone] = d;
    orders[r.zone] = r.read.orders;
  }
  return { digests, orders, unread, gzs };
}

async function readGzs(url: string, callMs: number): Promise<ClusterSnapshot['gzs']> {
  try {
    // the ownership log, not the bounded change history: it reaches back as far as retention says,
    // however many other changes were made (docs/gzs.md "Ownership log")
    return await new GzsApi(url, { timeoutMs: callMs }).ownership();
  } catch (err) {
    return { error: brief(err) };
  }
}

/**
 * One eZone's replicated tables, over one connection as the read-only DRC reader. The order
 * checks take the workload's orders from the same read of `orders` (the sample order service's
 * table, which the topology replicates), so every check sees one snapshot.
 */
async function readZone(
  topology: Topology,
  zone: string,
  wanted: Set<string>,
  callMs: number,
): Promise<{ digests: Record<string, TableDigest>; orders: ZoneRows[string] }> {
  const reader = mysqlAccount('reader');
  const conn = await mysql.createConnection(
    digestConnection({
      host: partAddress(topology, zone, 'mariadb'),
      port: topology.deployment.zones[zone].ports.mysql,
      user: reader.user,
      password: reader.password,
      database: topology.database,
      connectTimeout: callMs,
    }),
  );
  const orders = new Map<string, StoredOrder>();
  const keepOrder = (r: Record<string, unknown>): void => {
    const id = String(r.id);
    if (wanted.has(id))
      orders.set(id, {
        id,
        state: String(r.state),
        version: Number(r.version),
        updatedAt: String(r.updated_at),
      });
  };
  try {
    const digests: Record<string, TableDigest> = {};
    for (const spec of topology.tables) {
      digests[spec.name] = await readTableDigest(conn, spec, {
        timeoutMs: callMs,
        onRow: spec.name === 'orders' ? keepOrder : undefined,
      });
    }
    return { digests, orders };
  } finally {
    conn.destroy(); // never wait on a server that stopped answering
  }
}

/** An error in a few words: its code, and its message when that says more. */
function brief(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  const msg = errorMessage(err).split('\n')[0].slice(0, 160);
  return typeof code === 'string' && !msg.includes(code) ? `${code}: ${msg}` : msg;
}
