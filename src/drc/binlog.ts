/**
 * A source binlog as a stream of committed transactions (@vlasky/zongji underneath): GTID event
 * → row events → commit, assembled into `SourceTxn`s with the resume position after each one.
 * Used by the replicator (only transactions of one origin carry rows) and by the invalidator
 * (every origin).
 */
import ZongJi from '@vlasky/zongji';
import { nowUs, type Row } from '../shared/row-version.js';
import type { RowChange, SourcePosition, SourceTxn } from './types.js';

export interface BinlogSourceOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  /** this reader's replica server id: unique per reader per source (a duplicate kicks the other off) */
  readerId: number;
  database: string;
  /** tables whose row changes are wanted */
  tables: ReadonlySet<string>;
  /** only transactions written by this server id carry rows (others only advance the position); default: all */
  origin?: number;
  /** rows of DRC's heartbeat table addressed to this pair become `heartbeatsUs` */
  heartbeat?: { table: string; source: string; target: string };
  /** resume after this GTID position ('' = the oldest binlog still there) */
  from: string;
  connectTimeoutMs?: number;
  onTxn(txn: SourceTxn): void;
  onError(err: Error): void;
}

interface Pending {
  gtid: string;
  domainId: number;
  serverId: number;
  seqNo: string;
  tsMs: number;
  wanted: boolean;
  changes: RowChange[];
  heartbeatsUs: number[];
}

const EVENTS = [
  'mariadbgtid',
  'query',
  'xid',
  'tablemap',
  'writerows',
  'updaterows',
  'deleterows',
  'heartbeat',
  'rotate',
];

/** `1-1-42,2-2-17` → domain → gtid */
export function parseGtidPos(pos: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const part of pos.split(',').map((s) => s.trim())) {
    if (!part) continue;
    const m = /^(\d+)-(\d+)-(\d+)$/.exec(part);
    if (!m) throw new Error(`bad GTID position entry "${part}" (expected domain-server-sequence)`);
    out.set(Number(m[1]), part);
  }
  return out;
}

export const formatGtidPos = (m: ReadonlyMap<number, string>): string =>
  [...m.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([, g]) => g)
    .join(',');

const NOT_DDL = /^(BEGIN|COMMIT|ROLLBACK|XA |SAVEPOINT|RELEASE SAVEPOINT)/i;

export class BinlogSource {
  private zj: ZongJi | null = null;
  private pending: Pending | null = null;
  private readonly domains: Map<number, string>;
  private lastGtid = '';
  private failed = false;
  private paused = false;
  /** a Map zongji consults per TableMap: swapped to skip the row decoding of unwanted transactions */
  private readonly wantedSchema: Map<string, true | Set<string>>;
  private readonly skipSchema = new Map<string, true | Set<string>>();
  /** performance.now() of the last event of any kind (stall detection) */
  lastEventAt = performance.now();
  events = 0;

  constructor(private readonly o: BinlogSourceOptions) {
    this.domains = parseGtidPos(o.from);
    const tables = new Set(o.tables);
    if (o.heartbeat) tables.add(o.heartbeat.table);
    this.wantedSchema = new Map([[o.database, tables]]);
  }

  get position(): SourcePosition {
    return {
      gtidPos: formatGtidPos(this.domains),
      lastGtid: this.lastGtid,
      file: this.zj?.options.filename ?? '',
      pos: this.zj?.options.position ?? 0,
    };
  }

  start(): void {
    const o = this.o;
    const zj = new ZongJi({
      host: o.host,
      port: o.port,
      user: o.user,
      password: o.password,
      // DATETIME(6) as text keeps the microseconds (a Date has ms only)
      dateStrings: true,
      connectTimeout: o.connectTimeoutMs ?? 5000,
    });
    this.zj = zj;
    zj.on('error', (err: Error) => this.fail(err));
    zj.on('ready', () => {
      // ask for MariaDB's idle heartbeat events (every 1 s) so a silent stream still shows life;
      // queued before zongji's dump command on the same connection
      (zj as unknown as { connection: { query(sql: string, cb: () => void): void } }).connection?.query(
        'SET @master_heartbeat_period = 1000000000',
        () => undefined,
      );
    });
    zj.on('binlog', (ev: any) => {
      try {
        this.onEvent(ev);
      } catch (err) {
        this.fail(err as Error);
      }
    });
    zj.start({
      serverId: o.readerId,
      gtidSet: formatGtidPos(this.domains),
      includeEvents: EVENTS,
      includeSchema: { [o.database]: [...(this.wantedSchema.get(o.database) as Set<string>)] },
    });
    this.setSchemaFilter(true);
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.o.onError(err);
  }

  /** zongji compiles includeSchema once; per transaction we swap the compiled map (private field). */
  private setSchemaFilter(wanted: boolean): void {
    const zj = this.zj as unknown as { _includeSchemaMap?: Map<string, true | Set<string>> };
    if (zj) zj._includeSchemaMap = wanted ? this.wantedSchema : this.skipSchema;
  }

  private onEvent(ev: any): void {
    this.lastEventAt = performance.now();
    this.events++;
    const type: string = ev.getEventName();
    switch (type) {
      case 'mariadbgtid': {
        const wanted = this.o.origin === undefined || ev.serverId === this.o.origin;
        this.pending = {
          gtid: ev.gtid,
          domainId: ev.domainId,
          serverId: ev.serverId,
          seqNo: String(ev.seqNo),
          tsMs: ev.timestamp,
          wanted,
          changes: [],
          heartbeatsUs: [],
        };
        this.setSchemaFilter(wanted);
        return;
      }
      case 'writerows':
      case 'updaterows':
      case 'deleterows': {
        const p = this.pending;
        if (!p?.wanted) return;
        const table: string = ev.tableMap[ev.tableId].tableName;
        const hb = this.o.heartbeat;
        if (hb && table === hb.table) {
          for (const r of ev.rows as Row[]) {
            const img = (type === 'updaterows' ? (r as { after: Row }).after : r) as Row;
            if (img.source_zone === hb.source && img.target_zone === hb.target)
              p.heartbeatsUs.push(Number(img.ts_us));
          }
          return;
        }
        if (!this.o.tables.has(table)) return;
        if (type === 'writerows')
          for (const r of ev.rows as Row[]) p.changes.push({ table, op: 'insert', before: null, after: r });
        else if (type === 'deleterows')
          for (const r of ev.rows as Row[]) p.changes.push({ table, op: 'delete', before: r, after: null });
        else
          for (const r of ev.rows as { before: Row; after: Row }[])
            p.changes.push({ table, op: 'update', before: r.before, after: r.after });
        return;
      }
      case 'xid':
        this.finish();
        return;
      case 'query': {
        const q = String(ev.query).trim();
        if (/^COMMIT$/i.test(q)) this.finish();
        else if (!NOT_DDL.test(q)) this.finish({ query: q, schema: String(ev.schema ?? '') });
        return;
      }
      default:
    }
  }

  private finish(ddl?: { query: string; schema: string }): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    this.setSchemaFilter(true);
    this.domains.set(p.domainId, p.gtid);
    this.lastGtid = p.gtid;
    this.o.onTxn({
      gtid: p.gtid,
      domainId: p.domainId,
      serverId: p.serverId,
      seqNo: p.seqNo,
      tsMs: p.tsMs,
      changes: p.changes,
      heartbeatsUs: p.heartbeatsUs,
      ddl: ddl && p.wanted ? ddl : undefined,
      position: this.position,
      receivedUs: nowUs(),
    });
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** backpressure: stop reading the socket (the server buffers), resume later */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    (this.zj as any)?.connection?.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    (this.zj as any)?.connection?.resume();
  }

  async stop(): Promise<void> {
    const zj = this.zj;
    this.zj = null;
    if (!zj) return;
    this.failed = true; // errors while tearing down are noise
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 2000);
      zj.once('stopped', () => {
        clearTimeout(t);
        resolve();
      });
      zj.on('error', () => undefined); // keep a handler while stopping (ENVIRONMENT.md)
      try {
        zj.stop();
      } catch {
        clearTimeout(t);
        resolve();
      }
    });
  }
}
