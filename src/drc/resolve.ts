/**
 * Last-writer-wins for a group of source transactions, decided in memory against the target's
 * current rows (read `FOR UPDATE` by the applier) and its tombstones. Pure: no I/O, so the same
 * rule is unit-tested and model-checked (test/unit/drc-resolve.test.ts).
 *
 * Why it converges: with DRC's triggers every local write gets a version greater than the version
 * it replaces (schema.ts), so each eZone's state for a key is a function of the largest version
 * written (W) and the largest version deleted (D) it has received: the row W when W > D, else
 * nothing. Every rule below keeps that invariant, whatever the delivery order, so eZones that
 * received the same changes hold the same rows.
 */

import {
  compareVersions,
  formatVersion,
  pkKey,
  type Row,
  sameVersion,
  type Version,
  versionOf,
} from '../shared/row-version.js';
import type { Op, RowChange, SourceTxn, TableSpec } from './types.js';

export type ConflictReason =
  /** incoming is older than the target's row: the target keeps its row */
  | 'older'
  /** incoming is newer, but the target's row was not the version the incoming change replaced */
  | 'diverged'
  /** an insert met a row with the same key (newer or older) */
  | 'insert-exists'
  /** incoming insert/update is not newer than the version the target deleted */
  | 'deleted'
  /** incoming update is newer than a version the target deleted: the row comes back */
  | 'update-vs-delete'
  /** incoming update of a row the target never had (it may still be on its way from a third eZone) */
  | 'missing-row'
  /** incoming delete of a version older than the target's row: the row stays */
  | 'delete-vs-newer'
  /** incoming delete of a version newer than the target's row: the row goes */
  | 'delete-older-current'
  /** incoming delete of a row the target does not have */
  | 'already-deleted';

export interface Conflict {
  table: string;
  pk: string;
  op: Op;
  reason: ConflictReason;
  winner: 'incoming' | 'current';
  incoming: Row | null;
  before: Row | null;
  current: Row | null;
  incomingVersion: string;
  currentVersion: string;
  gtid: string;
}

export interface TargetRows {
  /** table → pk → row (with drc_origin) as it is in the target now */
  current: Map<string, Map<string, Row>>;
  /** table → pk → the largest version deleted there */
  tombstones: Map<string, Map<string, Version>>;
}

export interface GroupOutcome {
  /** table → pk → the image to write (insert or overwrite) */
  upserts: Map<string, Map<string, Row>>;
  /** table → pk → the target's row to delete */
  deletes: Map<string, Map<string, Row>>;
  /** table → pk → tombstone to record (the largest deleted version) with the key's columns */
  tombstones: Map<string, Map<string, { version: Version; row: Row }>>;
  conflicts: Conflict[];
  /** incoming row changes that won (written) */
  applied: number;
  /** incoming row changes that lost to the target's row or tombstone */
  lost: number;
  /** incoming row changes the target already had (same version) */
  duplicates: number;
}

interface Slot {
  row: Row | null;
  version: Version | null;
  existed: boolean;
  dirty: boolean;
}

const nested = <V>(m: Map<string, Map<string, V>>, table: string): Map<string, V> => {
  let inner = m.get(table);
  if (!inner) {
    inner = new Map();
    m.set(table, inner);
  }
  return inner;
};

/** The (table, pk) keys a group touches: what the applier reads `FOR UPDATE` first. */
export function keysOf(txns: readonly SourceTxn[], tables: ReadonlyMap<string, TableSpec>) {
  const keys = new Map<string, Map<string, Row>>();
  for (const t of txns) {
    for (const c of t.changes) {
      const spec = tables.get(c.table);
      if (!spec) continue;
      for (const img of [c.before, c.after]) {
        if (img) nested(keys, c.table).set(pkKey(img, spec.primaryKey), img);
      }
    }
  }
  return keys;
}

/** An update that changes the primary key is a delete of the old key and an insert of the new one. */
function normalize(c: RowChange, spec: TableSpec): RowChange[] {
  if (c.op !== 'update' || !c.before || !c.after) return [c];
  if (pkKey(c.before, spec.primaryKey) === pkKey(c.after, spec.primaryKey)) return [c];
  return [
    { table: c.table, op: 'delete', before: c.before, after: null },
    { table: c.table, op: 'insert', before: null, after: c.after },
  ];
}

export function resolveGroup(
  txns: readonly SourceTxn[],
  tables: ReadonlyMap<string, TableSpec>,
  target: TargetRows,
): GroupOutcome {
  const slots = new Map<string, Map<string, Slot>>();
  const tombs = new Map<string, Map<string, { version: Version; row: Row; dirty: boolean }>>();
  const out: GroupOutcome = {
    upserts: new Map(),
    deletes: new Map(),
    tombstones: new Map(),
    conflicts: [],
    applied: 0,
    lost: 0,
    duplicates: 0,
  };

  const slotOf = (spec: TableSpec, pk: string): Slot => {
    const bySlot = nested(slots, spec.name);
    let s = bySlot.get(pk);
    if (!s) {
      const row = target.current.get(spec.name)?.get(pk) ?? null;
      s = { row, version: row ? versionOf(row, spec.updatedAt) : null, existed: row !== null, dirty: false };
      bySlot.set(pk, s);
    }
    return s;
  };
  const tombOf = (spec: TableSpec, pk: string): Version | null => {
    const own = tombs.get(spec.name)?.get(pk);
    if (own) return own.version;
    return target.tombstones.get(spec.name)?.get(pk) ?? null;
  };

  for (const txn of txns) {
    for (const raw of txn.changes) {
      const spec = tables.get(raw.table);
      if (!spec) continue;
      for (const c of normalize(raw, spec)) {
        const img = (c.after ?? c.before)!;
        const pk = pkKey(img, spec.primaryKey);
        const slot = slotOf(spec, pk);
        const vBefore = c.before ? versionOf(c.before, spec.updatedAt, txn.serverId) : null;
        const conflict = (reason: ConflictReason, winner: Conflict['winner'], vIn: Version | null) =>
          out.conflicts.push({
            table: spec.name,
            pk,
            op: c.op,
            reason,
            winner,
            incoming: c.after ?? c.before,
            before: c.before,
            current: slot.row,
            incomingVersion: formatVersion(vIn),
            currentVersion: formatVersion(slot.version),
            gtid: txn.gtid,
          });

        if (c.op === 'delete') {
          const deleted = vBefore!;
          const t = tombOf(spec, pk);
          if (!t || compareVersions(deleted, t) > 0) {
            nested(tombs, spec.name).set(pk, { version: deleted, row: c.before!, dirty: true });
          }
          if (slot.row && slot.version) {
            const cmp = compareVersions(slot.version, deleted);
            if (cmp > 0) {
              conflict('delete-vs-newer', 'current', deleted);
              out.lost++;
              continue;
            }
            if (cmp < 0) conflict('delete-older-current', 'incoming', deleted);
            slot.row = null;
            slot.version = null;
            slot.dirty = true;
            out.applied++;
          } else {
            conflict('already-deleted', 'incoming', deleted);
            out.duplicates++;
          }
          continue;
        }

        const incoming = c.after!;
        const vIn = versionOf(incoming, spec.updatedAt, txn.serverId);
        const write = () => {
          slot.row = incoming;
          slot.version = vIn;
          slot.dirty = true;
          out.applied++;
        };
        if (slot.row && slot.version) {
          const cmp = compareVersions(vIn, slot.version);
          if (cmp === 0) {
            out.duplicates++;
          } else if (cmp < 0) {
            conflict(c.op === 'insert' ? 'insert-exists' : 'older', 'current', vIn);
            out.lost++;
          } else {
            if (c.op === 'insert') conflict('insert-exists', 'incoming', vIn);
            else if (!sameVersion(vBefore, slot.version)) conflict('diverged', 'incoming', vIn);
            write();
          }
          continue;
        }
        const t = tombOf(spec, pk);
        if (t && compareVersions(vIn, t) <= 0) {
          conflict('deleted', 'current', vIn);
          out.lost++;
          continue;
        }
        if (vBefore) conflict(t ? 'update-vs-delete' : 'missing-row', 'incoming', vIn);
        write();
      }
    }
  }

  for (const [table, bySlot] of slots) {
    for (const [pk, s] of bySlot) {
      if (!s.dirty) continue;
      if (s.row) nested(out.upserts, table).set(pk, s.row);
      else if (s.existed) nested(out.deletes, table).set(pk, target.current.get(table)!.get(pk)!);
    }
  }
  for (const [table, byPk] of tombs) {
    for (const [pk, t] of byPk) {
      if (t.dirty) nested(out.tombstones, table).set(pk, { version: t.version, row: t.row });
    }
  }
  return out;
}
