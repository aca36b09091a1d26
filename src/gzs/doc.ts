/**
 * What a GZS store holds: the table, its generation (which store it came from) and a bounded
 * history of the changes that led to it. Pure logic: the stores only read and write it.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { initialTable, type RoutingTable } from '../routing/table.js';
import { RoutingTableSchema } from '../shared/gzs-protocol.js';
import type { Topology } from '../topology/types.js';
import { summarizeIssues } from '../util/validation.js';
import { type AppliedChange, applyChanges, type Change } from './changes.js';

export const DOC_FORMAT = 'ezctl-gzs/1';

export interface HistoryEntry {
  epoch: number;
  /** ms since the Unix epoch when the change was accepted */
  at: number;
  /** who asked (the X-Ez-Actor header), when given */
  actor?: string;
  changes: AppliedChange[];
}

export interface GzsDoc {
  format: typeof DOC_FORMAT;
  /**
   * Random id made when the store was first initialised. An SDK whose cache carries another
   * generation (a purged and re-created cluster) takes GZS's table even at a lower epoch.
   */
  generation: string;
  /** ms since the Unix epoch: when epoch 1 began */
  createdAt: number;
  table: RoutingTable;
  /** oldest first; bounded (see trimHistory) */
  history: HistoryEntry[];
}

export const GzsDocSchema = z.looseObject({
  format: z.literal(DOC_FORMAT, { error: `expected format "${DOC_FORMAT}"` }),
  generation: z.string().min(1),
  createdAt: z.number(),
  table: RoutingTableSchema,
  history: z.array(
    z.looseObject({
      epoch: z.number().int(),
      at: z.number(),
      actor: z.string().optional(),
      changes: z.array(z.looseObject({ op: z.string() })),
    }),
  ),
});

/** Parse a stored document; a damaged one is an Error naming where it came from and what is wrong. */
export function parseDoc(text: string, where: string): GzsDoc {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${where}: not JSON (${(err as Error).message})`);
  }
  const r = GzsDocSchema.safeParse(json);
  if (!r.success) throw new Error(`${where}: not a GZS table document: ${summarizeIssues(r.error.issues)}`);
  return r.data as unknown as GzsDoc;
}

export function newDoc(topology: Topology, now = Date.now()): GzsDoc {
  return {
    format: DOC_FORMAT,
    generation: randomUUID(),
    createdAt: now,
    table: initialTable(topology),
    history: [],
  };
}

export interface HistoryLimits {
  /** most entries kept */
  maxEntries: number;
  /** most bytes of JSON kept (the ZooKeeper znode limit is 1 MB); the newest entry is always kept */
  maxBytes: number;
}
export const DEFAULT_HISTORY: HistoryLimits = { maxEntries: 1000, maxBytes: 256 * 1024 };

/** Drop the oldest entries until both limits hold (the newest entry always stays). */
export function trimHistory(
  history: HistoryEntry[],
  limits: HistoryLimits = DEFAULT_HISTORY,
): HistoryEntry[] {
  let start = Math.max(0, history.length - limits.maxEntries);
  let bytes = 0;
  for (let i = history.length - 1; i >= start; i--) {
    bytes += JSON.stringify(history[i]).length + 1;
    if (bytes > limits.maxBytes && i < history.length - 1) {
      start = i + 1;
      break;
    }
  }
  return start === 0 ? history : history.slice(start);
}

/**
 * The document after one accepted batch: epoch + 1 and a history entry. Throws like applyChanges.
 * A batch of no-ops only (see applyChanges) gives `doc` itself back and `entry: null`.
 */
export function nextDoc(
  doc: GzsDoc,
  changes: readonly Change[],
  opts: { now?: number; actor?: string; limits?: HistoryLimits } = {},
): { doc: GzsDoc; entry: HistoryEntry | null } {
  const now = opts.now ?? Date.now();
  const { table, applied } = applyChanges(doc.table, changes, now);
  if (applied.length === 0) return { doc, entry: null };
  const entry: HistoryEntry = {
    epoch: table.epoch,
    at: now,
    ...(opts.actor ? { actor: opts.actor } : {}),
    changes: applied,
  };
  return { doc: { ...doc, table, history: trimHistory([...doc.history, entry], opts.limits) }, entry };
}

export interface OwnerAt {
  shard: number;
  at: number;
  zone: string | null;
  /** the epoch in force at `at` */
  epoch: number;
  /**
   * true when the history reaches back to `at`; false when `at` is older than the history kept
   * (the answer is then the owner just before the oldest entry kept, which may have begun later)
   */
  exact: boolean;
}

/**
 * Who owned `shard` at time `at` (ms since the Unix epoch): undo the history's owner changes
 * newer than `at`, newest first. For DRC's illegal-write audit and the switch's reports.
 */
export function ownerAt(
  doc: Pick<GzsDoc, 'table' | 'history' | 'createdAt'>,
  shard: number,
  at: number,
): OwnerAt {
  let zone: string | null = doc.table.shards[shard]?.zone ?? null;
  let epoch = doc.table.epoch;
  let i = doc.history.length - 1;
  for (; i >= 0 && doc.history[i].at > at; i--) {
    const e = doc.history[i];
    for (let j = e.changes.length - 1; j >= 0; j--) {
      const c = e.changes[j];
      if (c.op === 'owner' && c.shard === shard) zone = c.from;
    }
    epoch = e.epoch - 1;
  }
  // complete when every change since epoch 1 is kept (the oldest kept is epoch 2) or one older than `at` is
  const complete = doc.history.length === 0 || doc.history[0].epoch === 2 || i >= 0;
  const exact = complete && at >= doc.createdAt;
  return { shard, at, zone, epoch, exact };
}

/**
 * Who owned `shard` at `epoch`: undo the history's owner changes newer than `epoch`, newest
 * first. `null` zone when the history no longer reaches back that far (`exact: false`). The
 * harness's routing checker uses it: every acknowledged request must be served by this owner.
 */
export function ownerAtEpoch(
  doc: Pick<GzsDoc, 'table' | 'history'>,
  shard: number,
  epoch: number,
): { zone: string | null; exact: boolean } {
  let zone: string | null = doc.table.shards[shard]?.zone ?? null;
  let i = doc.history.length - 1;
  for (; i >= 0 && doc.history[i].epoch > epoch; i--) {
    const e = doc.history[i];
    for (let j = e.changes.length - 1; j >= 0; j--) {
      const c = e.changes[j];
      if (c.op === 'owner' && c.shard === shard) zone = c.from;
    }
  }
  const exact = epoch >= doc.table.epoch || (doc.history.length > 0 && doc.history[0].epoch <= epoch + 1);
  return { zone: exact ? zone : null, exact };
}
