/**
 * Who owned a shard when a replicated row was written: the input of the illegal-write report.
 * DRC asks only through `OwnershipSource`, so the GZS SDK (routing-table history with epochs and
 * switch grace windows) can replace the topology's static assignment without touching the
 * replicator.
 */

import { pkKey } from '../shared/row-version.js';
import type { Topology, ZoneId } from '../topology/index.js';
import type { SourceTxn, TableSpec } from './types.js';

export interface Ownership {
  zone: ZoneId;
  epoch: number;
  /** the owner before the switch that made `zone` the owner, and until when its writes still count */
  previousZone?: ZoneId;
  graceUntilMs?: number;
}

export interface OwnershipSource {
  /** the owner of `shard` at `whenMs` (ms since the Unix epoch); undefined for an unknown shard */
  ownerAt(shard: number, whenMs: number): Ownership | undefined;
  /** the Global-Zone master at `whenMs` */
  globalMasterAt(whenMs: number): { zone: ZoneId; epoch: number };
}

/** The topology's initial assignment (routing table epoch 1); it never changes. */
export class TopologyOwnership implements OwnershipSource {
  private readonly owners: Map<number, ZoneId>;
  constructor(private readonly topology: Topology) {
    this.owners = new Map(topology.shards);
  }
  ownerAt(shard: number): Ownership | undefined {
    const zone = this.owners.get(shard);
    return zone === undefined ? undefined : { zone, epoch: 1 };
  }
  globalMasterAt(): { zone: ZoneId; epoch: number } {
    return { zone: this.topology.globalMaster, epoch: 1 };
  }
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

/**
 * The row changes of `txn` (written in eZone `origin`) that its origin was not allowed to make:
 * a sharded table's row whose shard another eZone owned at the transaction's time (the previous
 * owner is allowed until its grace window ends), or a Global-Zone table written outside the
 * master. The time is the binlog event time, which has second resolution: a write up to 1 s
 * before a switch may be judged by the new owner, so give switches a grace window of ≥ 1 s.
 */
export function illegalWrites(
  txn: SourceTxn,
  origin: ZoneId,
  tables: ReadonlyMap<string, TableSpec>,
  ownership: OwnershipSource,
): IllegalWrite[] {
  const out: IllegalWrite[] = [];
  for (const c of txn.changes) {
    const spec = tables.get(c.table);
    if (!spec) continue;
    const images = [c.after, c.before].filter((r) => r !== null);
    if (spec.kind === 'global') {
      const master = ownership.globalMasterAt(txn.tsMs);
      if (master.zone !== origin) {
        out.push({
          table: spec.name,
          pk: pkKey(images[0], spec.primaryKey),
          shard: null,
          origin,
          owner: master.zone,
          epoch: master.epoch,
          gtid: txn.gtid,
          tsMs: txn.tsMs,
          evidence: { rule: 'global-table-written-outside-master', op: c.op, row: images[0] },
        });
      }
      continue;
    }
    // the shard of the row after the change and, when it moved, the shard it left
    const shards = new Set<number>();
    for (const img of images) shards.add(Number(img[spec.shardColumn!]));
    for (const shard of shards) {
      const own = Number.isInteger(shard) ? ownership.ownerAt(shard, txn.tsMs) : undefined;
      if (own?.zone === origin) continue;
      if (own?.previousZone === origin && own.graceUntilMs !== undefined && txn.tsMs <= own.graceUntilMs)
        continue;
      out.push({
        table: spec.name,
        pk: pkKey(images[0], spec.primaryKey),
        shard: Number.isInteger(shard) ? shard : null,
        origin,
        owner: own?.zone ?? null,
        epoch: own?.epoch ?? null,
        gtid: txn.gtid,
        tsMs: txn.tsMs,
        evidence: {
          rule: own ? 'shard-owned-by-another-ezone' : 'unknown-shard',
          op: c.op,
          shardColumn: spec.shardColumn,
          row: images[0],
          ...(own?.previousZone ? { previousOwner: own.previousZone, graceUntilMs: own.graceUntilMs } : {}),
        },
      });
    }
  }
  return out;
}
