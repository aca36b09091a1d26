/**
 * What `ezctl drc status|conflicts|resume` and `ezctl audit illegal-writes` read: each
 * replicator's /healthz (per direction), and DRC's tables in each eZone's MariaDB (as the reader
 * account; resume as the applier).
 */
import mysql from 'mysql2/promise';
import { mysqlAccount } from '../shared/mysql-accounts.js';
import { partAddress, type Topology, type ZoneId } from '../topology/index.js';
import { EzError, errorMessage } from '../util/errors.js';
import { table } from '../util/table.js';
import { checkDirection, directions, drcPort } from './names.js';
import { DRC } from './schema.js';

export interface DirectionStatus {
  from: ZoneId;
  to: ZoneId;
  /** the replicator's state, or `down` when its /healthz does not answer */
  state: string;
  healthy: boolean;
  metricsUrl: string;
  /** last source transaction applied and the source position (from /healthz, else the checkpoint) */
  lastGtid: string | null;
  gtidPos: string | null;
  /** heartbeat lag (samples: heartbeats measured in the last minute) */
  lag: {
    nowMs: number | null;
    p50Ms: number | null;
    p99Ms: number | null;
    p999Ms: number | null;
    samples: number | null;
  };
  rowsPerSec: number | null;
  appliedRows: number | null;
  conflicts: number | null;
  illegalWrites: number | null;
  errors: number | null;
  lastError: string | null;
  /** from the target's drc_checkpoint when the replicator is down */
  checkpointAppliedAt?: string | null;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

async function connect(topology: Topology, zone: ZoneId, role: 'reader' | 'applier') {
  const a = mysqlAccount(role);
  const port = topology.deployment.zones[zone].ports.mysql;
  const host = partAddress(topology, zone, 'mariadb');
  try {
    return await mysql.createConnection({
      host,
      port,
      user: a.user,
      password: a.password,
      database: topology.database,
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      connectTimeout: 3000,
    });
  } catch (err) {
    throw new EzError(
      'EZ_DB_UNREACHABLE',
      `cannot reach ${zone}'s MariaDB at ${host}:${port} as ${a.user}: ${errorMessage(err)} (is the cluster up?)`,
    );
  }
}

async function fetchHealth(url: string): Promise<Record<string, any> | null> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(1500) });
    return (await r.json()) as Record<string, any>;
  } catch {
    return null;
  }
}

/** Every direction of the topology (or those matching from/to). */
export async function drcStatus(
  topology: Topology,
  filter: { from?: ZoneId; to?: ZoneId } = {},
): Promise<DirectionStatus[]> {
  const dirs = directions(topology).filter(
    (d) => (!filter.from || d.from === filter.from) && (!filter.to || d.to === filter.to),
  );
  return Promise.all(
    dirs.map(async ({ from, to }) => {
      const base = `http://${partAddress(topology, to, 'drc')}:${drcPort(topology, from, to)}`;
      const h = await fetchHealth(`${base}/healthz`);
      if (h) {
        return {
          from,
          to,
          state: String(h.state),
          healthy: Boolean(h.ok),
          metricsUrl: `${base}/metrics`,
          lastGtid: h.position?.lastGtid ?? null,
          gtidPos: h.position?.gtidPos ?? null,
          lag: {
            nowMs: num(h.lag?.nowMs),
            p50Ms: num(h.lag?.p50Ms),
            p99Ms: num(h.lag?.p99Ms),
            p999Ms: num(h.lag?.p999Ms),
            samples: num(h.lag?.samples),
          },
          rowsPerSec: num(h.rowsPerSec),
          appliedRows: num(h.appliedRows),
          conflicts: num(h.conflicts),
          illegalWrites: num(h.illegalWrites),
          errors: num(h.errors),
          lastError: h.lastError?.message ?? null,
        };
      }
      // the replicator does not answer: what the target's tables say
      const s: DirectionStatus = {
        from,
        to,
        state: 'down',
        healthy: false,
        metricsUrl: `${base}/metrics`,
        lastGtid: null,
        gtidPos: null,
        lag: { nowMs: null, p50Ms: null, p99Ms: null, p999Ms: null, samples: null },
        rowsPerSec: null,
        appliedRows: null,
        conflicts: null,
        illegalWrites: null,
        errors: null,
        lastError: `no answer from ${base}/healthz`,
        checkpointAppliedAt: null,
      };
      try {
        const c = await connect(topology, to, 'reader');
        try {
          const [rows] = await c.query(
            `SELECT last_gtid, gtid_pos, applied_rows, applied_at,
               (SELECT COUNT(*) FROM ${DRC.conflicts} WHERE source_zone = ?) AS conflicts,
               (SELECT COUNT(*) FROM ${DRC.illegalWrites} WHERE origin_zone = ?) AS illegal
             FROM ${DRC.checkpoint} WHERE source_zone = ?`,
            [from, from, from],
          );
          const r = (rows as Record<string, any>[])[0];
          if (r) {
            s.lastGtid = r.last_gtid;
            s.gtidPos = r.gtid_pos;
            s.appliedRows = Number(r.applied_rows);
            s.conflicts = Number(r.conflicts);
            s.illegalWrites = Number(r.illegal);
            s.checkpointAppliedAt = r.applied_at;
          }
        } finally {
          await c.end();
        }
      } catch (err) {
        s.lastError += `; ${errorMessage(err)}`;
      }
      return s;
    }),
  );
}

const fmtMs = (v: number | null): string =>
  v === null ? '-' : v >= 1000 ? `${(v / 1000).toFixed(1)}s` : `${v}`;

export function formatDrcStatus(rows: DirectionStatus[]): string {
  return table(
    [
      'DIRECTION',
      'STATE',
      'LAST GTID',
      'LAG ms now/p50/p99',
      'ROWS/S',
      'APPLIED',
      'CONFLICTS',
      'ILLEGAL',
      'LAST ERROR',
    ],
    rows.map((r) => [
      `${r.from} -> ${r.to}`,
      r.state,
      r.lastGtid ?? '-',
      `${fmtMs(r.lag.nowMs)}/${fmtMs(r.lag.p50Ms)}/${fmtMs(r.lag.p99Ms)}`,
      r.rowsPerSec === null ? '-' : String(r.rowsPerSec),
      r.appliedRows === null ? '-' : String(r.appliedRows),
      r.conflicts === null ? '-' : String(r.conflicts),
      r.illegalWrites === null ? '-' : String(r.illegalWrites),
      r.state === 'running' || r.state === 'catching-up' ? '' : (r.lastError ?? '').slice(0, 160),
    ]),
  );
}

export interface ConflictRow {
  zone: ZoneId;
  id: number;
  detectedAt: string;
  source: ZoneId;
  table: string;
  pk: string;
  op: string;
  reason: string;
  winner: string;
  incomingVersion: string;
  currentVersion: string;
  incoming: unknown;
  before: unknown;
  current: unknown;
  sourceGtid: string;
}

const parseJson = (s: unknown): unknown => {
  if (typeof s !== 'string') return s ?? null;
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
};

/** The newest conflicts of every eZone's ledger (each eZone records what it received). */
export async function listConflicts(
  topology: Topology,
  opts: { limit: number; zone?: ZoneId; table?: string },
): Promise<ConflictRow[]> {
  const zones = opts.zone ? [opts.zone] : topology.zones.map((z) => z.id);
  const all = await Promise.all(
    zones.map(async (zone) => {
      const c = await connect(topology, zone, 'reader');
      try {
        const [rows] = await c.query(
          `SELECT * FROM ${DRC.conflicts} ${opts.table ? 'WHERE table_name = ?' : ''} ORDER BY id DESC LIMIT ?`,
          opts.table ? [opts.table, opts.limit] : [opts.limit],
        );
        return (rows as Record<string, any>[]).map(
          (r): ConflictRow => ({
            zone,
            id: Number(r.id),
            detectedAt: r.detected_at,
            source: r.source_zone,
            table: r.table_name,
            pk: r.pk,
            op: r.op,
            reason: r.reason,
            winner: r.winner,
            incomingVersion: r.incoming_version,
            currentVersion: r.current_version,
            incoming: parseJson(r.incoming_image),
            before: parseJson(r.before_image),
            current: parseJson(r.current_image),
            sourceGtid: r.source_gtid,
          }),
        );
      } finally {
        await c.end();
      }
    }),
  );
  return all
    .flat()
    .sort((a, b) => (a.detectedAt < b.detectedAt ? 1 : a.detectedAt > b.detectedAt ? -1 : 0))
    .slice(0, opts.limit);
}

export function formatConflicts(rows: ConflictRow[]): string {
  if (rows.length === 0) return 'no conflicts recorded';
  return table(
    ['DETECTED', 'IN', 'FROM', 'TABLE', 'PK', 'OP', 'REASON', 'WINNER', 'INCOMING', 'CURRENT', 'GTID'],
    rows.map((r) => [
      r.detectedAt,
      r.zone,
      r.source,
      r.table,
      r.pk,
      r.op,
      r.reason,
      r.winner,
      r.incomingVersion,
      r.currentVersion,
      r.sourceGtid,
    ]),
  );
}

export interface IllegalWriteRow {
  /** the eZone whose replicator found it */
  detectedIn: ZoneId;
  id: number;
  detectedAt: string;
  origin: ZoneId;
  table: string;
  pk: string;
  shard: number | null;
  owner: ZoneId | null;
  epoch: number | null;
  sourceGtid: string;
  writtenAt: string;
  evidence: unknown;
}

/**
 * Illegal writes from every eZone's report. A write replicated to several eZones is reported by
 * each of them: rows are merged by (origin, GTID, table, pk), keeping where each was seen.
 */
export async function listIllegalWrites(
  topology: Topology,
  opts: { limit: number; origin?: ZoneId },
): Promise<(IllegalWriteRow & { seenIn: ZoneId[] })[]> {
  const all = await Promise.all(
    topology.zones.map(async (z) => {
      const c = await connect(topology, z.id, 'reader');
      try {
        const [rows] = await c.query(
          `SELECT * FROM ${DRC.illegalWrites} ${opts.origin ? 'WHERE origin_zone = ?' : ''} ORDER BY id DESC LIMIT ?`,
          opts.origin ? [opts.origin, opts.limit] : [opts.limit],
        );
        return (rows as Record<string, any>[]).map(
          (r): IllegalWriteRow => ({
            detectedIn: z.id,
            id: Number(r.id),
            detectedAt: r.detected_at,
            origin: r.origin_zone,
            table: r.table_name,
            pk: r.pk,
            shard: r.shard === null ? null : Number(r.shard),
            owner: r.owner_zone,
            epoch: r.epoch === null ? null : Number(r.epoch),
            sourceGtid: r.source_gtid,
            writtenAt: r.written_at,
            evidence: parseJson(r.evidence),
          }),
        );
      } finally {
        await c.end();
      }
    }),
  );
  const merged = new Map<string, IllegalWriteRow & { seenIn: ZoneId[] }>();
  for (const r of all.flat()) {
    const k = `${r.origin}|${r.sourceGtid}|${r.table}|${r.pk}|${r.shard}`;
    const m = merged.get(k);
    if (m) m.seenIn.push(r.detectedIn);
    else merged.set(k, { ...r, seenIn: [r.detectedIn] });
  }
  return [...merged.values()]
    .sort((a, b) => (a.detectedAt < b.detectedAt ? 1 : a.detectedAt > b.detectedAt ? -1 : 0))
    .slice(0, opts.limit);
}

export function formatIllegalWrites(rows: (IllegalWriteRow & { seenIn: ZoneId[] })[]): string {
  if (rows.length === 0) return 'no illegal writes recorded';
  return table(
    ['WRITTEN', 'ORIGIN', 'TABLE', 'PK', 'SHARD', 'OWNER', 'EPOCH', 'GTID', 'SEEN IN'],
    rows.map((r) => [
      r.writtenAt,
      r.origin,
      r.table,
      r.pk,
      r.shard === null ? '-' : String(r.shard),
      r.owner ?? '-',
      r.epoch === null ? '-' : String(r.epoch),
      r.sourceGtid,
      r.seenIn.join(','),
    ]),
  );
}

/**
 * Let a direction stopped at a DDL go on: record in the target's drc_control that the stopped
 * transaction is to be stepped over (the operator has applied the change in the target). The
 * replicator polls drc_control every second.
 */
export async function resumeDirection(
  topology: Topology,
  from: ZoneId,
  to: ZoneId,
  gtid?: string,
): Promise<{ from: ZoneId; to: ZoneId; skipped: string }> {
  checkDirection(topology, from, to);
  const c = await connect(topology, to, 'applier');
  try {
    const [rows] = await c.query(
      `SELECT state, pending_gtid, skip_gtid FROM ${DRC.control} WHERE source_zone = ?`,
      [from],
    );
    const r = (rows as { state: string; pending_gtid: string | null; skip_gtid: string | null }[])[0];
    if (r?.state !== 'stopped' || !r.pending_gtid)
      throw new EzError('EZ_NOT_STOPPED', `${from} -> ${to} is not stopped at a DDL: nothing to resume`);
    // resumed already, the replicator has not polled yet (≤ 1 s): a second resume would say
    // "skipped" for a step it does not take
    if (r.skip_gtid === r.pending_gtid)
      throw new EzError(
        'EZ_NOT_STOPPED',
        `${from} -> ${to} is already resumed past ${r.pending_gtid}: the replicator steps over it within a second`,
      );
    if (gtid && gtid !== r.pending_gtid)
      throw new EzError(
        'EZ_WRONG_GTID',
        `${from} -> ${to} is stopped at ${r.pending_gtid}, not ${gtid}: check \`ezctl drc status\``,
        2,
      );
    await c.query('SET SESSION sql_log_bin = 0');
    await c.query(
      `UPDATE ${DRC.control} SET skip_gtid = pending_gtid, updated_at = NOW(6) WHERE source_zone = ?`,
      [from],
    );
    return { from, to, skipped: r.pending_gtid };
  } finally {
    await c.end();
  }
}
