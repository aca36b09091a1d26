/**
 * "Has DRC A → B applied everything A had at position P?" — the one wait the switch (DESIGN §6
 * step 3), the tests and the benches use. A direction carries only A's own transactions (GTID
 * domain = A's server id), so it has applied P once B's checkpoint for A covers A's domain of P.
 */
import mysql, { type Connection, type ConnectionOptions } from 'mysql2/promise';
import { mysqlAccount } from '../shared/mysql-accounts.js';
import { partAddress, type Topology, type ZoneId } from '../topology/index.js';
import { EzError } from '../util/errors.js';
import { serverIdOf } from './names.js';
import { DRC } from './schema.js';

/** The sequence of domain `serverId` in a GTID position (`1-1-42,2-2-17`), 0n when absent. */
export function ownSequence(pos: string, serverId: number): bigint {
  for (const part of pos.split(',')) {
    const m = /^\s*(\d+)-(\d+)-(\d+)\s*$/.exec(part);
    if (m && Number(m[1]) === serverId) return BigInt(m[3]);
  }
  return 0n;
}

export interface SourcePoint {
  /** A's whole `@@gtid_binlog_pos` */
  gtidPos: string;
  /** A's own domain's sequence in it */
  seq: bigint;
}

/** Where A's binlog stands now (its own domain), read on a connection to A. */
export async function currentPosition(conn: Connection, serverId: number): Promise<SourcePoint> {
  const [rows] = await conn.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos');
  const gtidPos = String((rows as { pos: string }[])[0].pos);
  return { gtidPos, seq: ownSequence(gtidPos, serverId) };
}

/** B's checkpoint for source A: its gtid_pos, or '' before the first apply. */
export async function checkpointOf(conn: Connection, from: ZoneId): Promise<string> {
  const [rows] = await conn.query(`SELECT gtid_pos FROM ${DRC.checkpoint} WHERE source_zone = ?`, [from]);
  return String((rows as { gtid_pos?: string }[])[0]?.gtid_pos ?? '');
}

export interface WaitAppliedOptions {
  /** B's MariaDB (a reader account suffices) */
  target: ConnectionOptions;
  from: ZoneId;
  to: ZoneId;
  /** A's server id (its GTID domain) */
  fromServerId: number;
  /** the sequence of A's domain that must be applied */
  seq: bigint;
  timeoutMs: number;
  /** how often B's checkpoint is read (default 20 ms) */
  pollMs?: number;
  signal?: AbortSignal;
}

export interface Applied {
  /** B's checkpoint when it covered the position */
  checkpoint: string;
  waitedMs: number;
}

/** Resolves once B has applied A's domain up to `seq`; EZ_DRC_BEHIND after `timeoutMs`, naming both positions. */
export async function waitApplied(o: WaitAppliedOptions): Promise<Applied> {
  const t0 = performance.now();
  const deadline = t0 + o.timeoutMs;
  const conn = await mysql.createConnection({ connectTimeout: Math.min(5000, o.timeoutMs), ...o.target });
  try {
    for (;;) {
      const checkpoint = await checkpointOf(conn, o.from);
      if (ownSequence(checkpoint, o.fromServerId) >= o.seq)
        return { checkpoint, waitedMs: Math.round(performance.now() - t0) };
      if (performance.now() >= deadline || o.signal?.aborted) {
        const wanted = `${o.fromServerId}-${o.fromServerId}-${o.seq}`;
        throw new EzError(
          'EZ_DRC_BEHIND',
          `DRC ${o.from} -> ${o.to} has not applied ${wanted} within ${o.timeoutMs} ms (checkpoint in ${o.to}: ${checkpoint || 'none'})`,
        );
      }
      await new Promise((r) => setTimeout(r, o.pollMs ?? 20));
    }
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}

/** MariaDB of an eZone as the control machine reaches it, as DRC's reader (SELECT, binlog monitor). */
export function readerConnection(topology: Topology, zone: ZoneId): ConnectionOptions {
  const a = mysqlAccount('reader');
  return {
    host: partAddress(topology, zone, 'mariadb'),
    port: topology.deployment.zones[zone].ports.mysql,
    user: a.user,
    password: a.password,
    database: topology.database,
  };
}

/**
 * The whole wait from the control machine: note A's position now, then wait until B applied it.
 * Returns A's position and how long the wait took.
 */
export async function drainDirection(
  topology: Topology,
  from: ZoneId,
  to: ZoneId,
  timeoutMs: number,
): Promise<Applied & { position: SourcePoint }> {
  const sid = serverIdOf(topology, from);
  const a = await mysql.createConnection({ ...readerConnection(topology, from), connectTimeout: 5000 });
  let position: SourcePoint;
  try {
    position = await currentPosition(a, sid);
  } finally {
    await a.end().catch(() => a.destroy());
  }
  const applied = await waitApplied({
    target: readerConnection(topology, to),
    from,
    to,
    fromServerId: sid,
    seq: position.seq,
    timeoutMs,
  });
  return { ...applied, position };
}
