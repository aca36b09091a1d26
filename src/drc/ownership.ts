/**
 * The illegal-write rule of DRC's audit (DESIGN §6, §7.3): a replicated row change that its
 * origin eZone was not allowed to make — a sharded row whose shard another eZone owned when the
 * row was written, or a Global-Zone row written outside the master. Ownership comes only through
 * `OwnershipSource` (GZS's ownership log, gzs-ownership.ts); pure logic here.
 *
 * When a write happened: the row's own `updated_at` (µs, set by the writer's statement, DESIGN §5)
 * for inserts and updates. A delete carries no time of its own (its before image has the old
 * updated_at), so it is judged by the binlog event time, which has second resolution: the verdict
 * is provisional when ownership changed within that second.
 */

import { pkKey, type Row, updatedAtToUs } from '../shared/row-version.js';
import type { ZoneId } from '../topology/index.js';
import type { SourceTxn, TableSpec } from './types.js';

export interface Ownership {
  zone: ZoneId;
  /** the epoch the answer was read at (the newest change at or before the time asked) */
  epoch: number;
  /** GZS's log did not yet cover the time asked: the newest known owner, which may still change */
  provisional?: boolean;
}

export interface OwnershipSource {
  /** the owner of `shard` at `whenMs` (ms since the Unix epoch); undefined when unknown */
  ownerAt(shard: number, whenMs: number): Ownership | undefined;
  /** the Global-Zone master at `whenMs`; undefined when unknown */
  globalMasterAt(whenMs: number): { zone: ZoneId; epoch: number } | undefined;
  /** wait (bounded) until ownership is known up to `whenMs`; false when it is not */
  freshUntil?(whenMs: number, waitMs: number): Promise<boolean>;
  /**
   * a write by the previous owner up to this long after an owner change still counts as its own:
   * the hosts' clock skew (updated_at is the writer's clock, the log GZS's); default 0
   */
  readonly graceMs?: number;
}

export interface IllegalWrite {
  table: string;
  pk: string;
  shard: number | null;
  /** the eZone that wrote the row */
  origin: ZoneId;
  /** who owned the shard (or was Global-Zone master) then; null for an unknown shard */
  owner: ZoneId | null;
  epoch: number | null;
  gtid: string;
  tsMs: number;
  evidence: Record<string, unknown>;
}

/** When a row change happened, ms since the Unix epoch, and how sure that is. */
function writeTime(
  txn: SourceTxn,
  image: Row,
  spec: TableSpec,
  op: string,
): { ms: number; uncertainMs: number; from: string } {
  if (op !== 'delete') {
    const us = updatedAtToUs(image[spec.updatedAt]);
    if (Number.isFinite(us)) return { ms: us / 1000, uncertainMs: 0, from: spec.updatedAt };
  }
  return { ms: txn.tsMs, uncertainMs: 999, from: 'binlog event time (1 s resolution)' };
}

/** The latest write time among a group's row changes (ms), for waiting until ownership covers it. */
export function latestWriteMs(txns: readonly SourceTxn[], tables: ReadonlyMap<string, TableSpec>): number {
  let latest = 0;
  for (const txn of txns) {
    for (const c of txn.changes) {
      const spec = tables.get(c.table);
      const img = c.after ?? c.before;
      if (!spec || !img) continue;
      const t = writeTime(txn, img, spec, c.op);
      latest = Math.max(latest, t.ms + t.uncertainMs);
    }
  }
  return latest;
}

export interface Verdicts {
  illegal: IllegalWrite[];
  /** row changes that could not be judged (ownership unknown at their time) */
  unjudged: number;
}

/**
 * The row changes of `txn` (written in eZone `origin`) that its origin was not allowed to make:
 * a sharded table's row whose shard another eZone owned at the row's write time (the previous
 * owner is allowed for `graceMs`), or a Global-Zone table written outside the master.
 */
export function judgeWrites(
  txn: SourceTxn,
  origin: ZoneId,
  tables: ReadonlyMap<string, TableSpec>,
  ownership: OwnershipSource,
): Verdicts {
  const out: IllegalWrite[] = [];
  let unjudged = 0;
  const grace = ownership.graceMs ?? 0;
  for (const c of txn.changes) {
    const spec = tables.get(c.table);
    if (!spec) continue;
    const images = [c.after, c.before].filter((r) => r !== null);
    const t = writeTime(txn, images[0], spec, c.op);
    if (spec.kind === 'global') {
      const master = ownership.globalMasterAt(t.ms);
      if (!master) {
        unjudged++;
        continue;
      }
      if (master.zone !== origin) {
        out.push({
          table: spec.name,
          pk: pkKey(images[0], spec.primaryKey),
          shard: null,
          origin,
          owner: master.zone,
          epoch: master.epoch,
          gtid: txn.gtid,
          tsMs: t.ms,
          evidence: {
            rule: 'global-table-written-outside-master',
            op: c.op,
            judgedBy: t.from,
            row: images[0],
          },
        });
      }
      continue;
    }
    // the shard of the row after the change and, when it moved, the shard it left
    const shards = new Set<number>();
    for (const img of images) shards.add(Number(img[spec.shardColumn!]));
    for (const shard of shards) {
      if (!Number.isInteger(shard)) {
        out.push(violation(txn, spec, images[0], origin, null, t, { rule: 'unknown-shard', op: c.op }));
        continue;
      }
      const own = ownership.ownerAt(shard, t.ms);
      if (own === undefined) {
        unjudged++;
        continue;
      }
      if (own.zone === origin) continue;
      if (grace > 0 && ownership.ownerAt(shard, t.ms - grace)?.zone === origin) continue;
      // a delete's time is known to a second: illegal only if the origin owned it at no moment of it
      const atEnd = t.uncertainMs > 0 ? ownership.ownerAt(shard, t.ms + t.uncertainMs) : undefined;
      if (atEnd?.zone === origin) continue;
      const provisional = own.provisional === true || (atEnd !== undefined && atEnd.zone !== own.zone);
      out.push(
        violation(txn, spec, images[0], origin, own, t, {
          rule: 'shard-owned-by-another-ezone',
          op: c.op,
          shardColumn: spec.shardColumn,
          ...(provisional ? { provisional: true } : {}),
        }),
      );
    }
  }
  return { illegal: out, unjudged };
}

function violation(
  txn: SourceTxn,
  spec: TableSpec,
  row: Row,
  origin: ZoneId,
  own: Ownership | null,
  t: { ms: number; from: string },
  evidence: Record<string, unknown>,
): IllegalWrite {
  return {
    table: spec.name,
    pk: pkKey(row, spec.primaryKey),
    shard: Number.isInteger(Number(row[spec.shardColumn!])) ? Number(row[spec.shardColumn!]) : null,
    origin,
    owner: own?.zone ?? null,
    epoch: own?.epoch ?? null,
    gtid: txn.gtid,
    tsMs: t.ms,
    evidence: { ...evidence, judgedBy: t.from, writtenAt: new Date(t.ms).toISOString(), row },
  };
}
