// What DRC moves: tables, row changes, source transactions and positions.
import type { Row } from '../shared/row-version.js';

/** A replicated table as DRC needs it (from the topology's `tables`). */
export interface TableSpec {
  name: string;
  kind: 'sharded' | 'global';
  primaryKey: string[];
  updatedAt: string;
  shardColumn?: string;
  cacheKey?: string;
}

export type Op = 'insert' | 'update' | 'delete';

/** One row change of a source transaction: after image for insert/update, before image for update/delete. */
export interface RowChange {
  table: string;
  op: Op;
  before: Row | null;
  after: Row | null;
}

/** Where a reader stands in a source binlog: resumable from `gtidPos` (all domains). */
export interface SourcePosition {
  /** MariaDB GTID position after the last transaction read, every domain: `1-1-42,2-2-17` */
  gtidPos: string;
  /** the last transaction read (`domain-server-seq`), '' before the first */
  lastGtid: string;
  file: string;
  pos: number;
}

/** One committed transaction from a source binlog. */
export interface SourceTxn {
  gtid: string;
  domainId: number;
  /** origin server id (from the GTID event): the eZone that wrote it */
  serverId: number;
  seqNo: string;
  /** binlog event time (second resolution), ms */
  tsMs: number;
  changes: RowChange[];
  /** heartbeat rows of this transaction that are addressed to this reader (µs timestamps) */
  heartbeatsUs: number[];
  /** a statement that is not a row change (DDL), with the schema it ran in */
  ddl?: { query: string; schema: string };
  /** position right after this transaction */
  position: SourcePosition;
  /** when this reader had the whole transaction (µs, nowUs()) */
  receivedUs?: number;
}
