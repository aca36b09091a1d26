/**
 * What a GZS store holds: the table, its generation (which store it came from), a bounded history
 * of the changes that led to it, and the ownership log (ownership.ts), which outlives the history:
 * owner changes and shard locks retained by time. Pure logic: the stores only read and write it.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { initialTable, type RoutingTable } from '../routing/index.js';
import { type OwnershipAnswer, OwnershipBaseSchema, RoutingTableSchema } from '../shared/gzs-protocol.js';
import type { Topology } from '../topology/index.js';
import { summarizeIssues } from '../util/validation.js';
import { type AppliedChange, applyChanges, type Change } from './changes.js';
import { type SwitchEntry, SwitchEntrySchema } from './journal.js';
import {
  catchUpOwnership,
  DEFAULT_OWNERSHIP_RETENTION_MS,
  deriveOwnership,
  lastAt,
  logFromTable,
  logView,
  type OwnershipLog,
  ownershipView,
  recordOwnership,
  trimOwnership,
} from './ownership.js';

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
  /**
   * Owner changes and shard locks, retained by time (ownershipRetentionMs, 30 days by default)
   * whatever else happens, on top of a base snapshot. Absent in documents written before it
   * existed (same format): parseDoc derives it from the history then.
   */
  ownership: OwnershipLog;
  /** the switch journal (journal.ts): open switches and the last ended ones; [] before any */
  journal: SwitchEntry[];
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
  ownership: z
    .looseObject({
      epoch: z.number().int().min(1),
      base: OwnershipBaseSchema,
      entries: z.array(
        z.looseObject({
          epoch: z.number().int().min(1),
          at: z.number(),
          owner: z.record(z.string(), z.array(z.number().int())).optional(),
          lock: z.array(z.number().int()).optional(),
          unlock: z.array(z.number().int()).optional(),
        }),
      ),
    })
    .optional(),
  journal: z.array(SwitchEntrySchema).optional(),
});

/**
 * Why a loaded document's ownership log was derived or repaired (e.g. written by a GZS that had
 * no log), for the server to log once; absent when it was loaded as stored.
 */
export const ownershipLoadNotes = new WeakMap<GzsDoc, string>();

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
  const raw = r.data as unknown as Omit<GzsDoc, 'ownership' | 'journal'> & {
    ownership?: OwnershipLog;
    journal?: SwitchEntry[];
  };
  // documents written before the journal existed have none
  raw.journal ??= [];
  const now = Date.now();
  if (!raw.ownership) {
    const doc: GzsDoc = {
      ...raw,
      journal: raw.journal,
      ownership: deriveOwnership(raw.table, raw.history, raw.createdAt, now),
    };
    ownershipLoadNotes.set(
      doc,
      `no ownership log in the document (written by an older GZS): derived from the history, exact from epoch ${doc.ownership.base.epoch}`,
    );
    return doc;
  }
  const { log, reason } = catchUpOwnership(raw.ownership, raw.table, raw.history, raw.createdAt, now);
  const doc: GzsDoc = { ...raw, journal: raw.journal, ownership: log };
  if (reason) ownershipLoadNotes.set(doc, reason);
  else if (log !== raw.ownership) {
    ownershipLoadNotes.set(doc, `ownership log caught up from epoch ${raw.ownership.epoch} from the history`);
  }
  return doc;
}

export function newDoc(topology: Topology, now = Date.now()): GzsDoc {
  const table = initialTable(topology);
  return {
    format: DOC_FORMAT,
    generation: randomUUID(),
    createdAt: now,
    table,
    history: [],
    ownership: logFromTable(table, now),
    journal: [],
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

export interface NextDocOptions {
  /** ms since the Unix epoch (default Date.now()) */
  now?: number;
  actor?: string;
  limits?: HistoryLimits;
  /** owner changes and shard locks are kept at least this long (default 30 days) */
  ownershipRetentionMs?: number;
  /**
   * Largest document (bytes of JSON) the store holds (ZooKeeper: one znode). Over it, the oldest
   * history entries go first, down to none; the ownership log within retention never does (the
   * store then refuses the change as too large).
   */
  maxBytes?: number;
}

/**
 * The document after one accepted batch: epoch + 1, a history entry and its owner changes and
 * shard locks in the ownership log (which drops by time only). Throws like applyChanges.
 * A batch of no-ops only (see applyChanges) gives `doc` itself back and `entry: null`.
 */
export function nextDoc(
  doc: GzsDoc,
  changes: readonly Change[],
  opts: NextDocOptions = {},
): { doc: GzsDoc; entry: HistoryEntry | null } {
  const now = opts.now ?? Date.now();
  const { table, applied } = applyChanges(doc.table, changes, now);
  if (applied.length === 0) return { doc, entry: null };
  // an epoch never begins before the one before it, whatever this host's clock says (NTP steps,
  // another instance's clock): the ownership log is searched by time
  const at = Math.max(now, lastAt(doc.ownership), doc.history.at(-1)?.at ?? 0);
  const entry: HistoryEntry = {
    epoch: table.epoch,
    at,
    ...(opts.actor ? { actor: opts.actor } : {}),
    changes: applied,
  };
  const touched: number[] = [];
  for (const c of applied)
    if (c.op === 'owner' || c.op === 'lock' || c.op === 'unlock') touched.push(c.shard);
  const retention = opts.ownershipRetentionMs ?? DEFAULT_OWNERSHIP_RETENTION_MS;
  const ownership = trimOwnership(
    recordOwnership(doc.ownership, doc.table, table, touched, at),
    now - retention,
  );
  const next: GzsDoc = {
    ...doc,
    table,
    history: trimHistory([...doc.history, entry], opts.limits),
    ownership,
  };
  return { doc: opts.maxBytes === undefined ? next : fitHistory(next, opts.maxBytes), entry };
}

/** Drop the oldest history entries (down to none) until the document's JSON fits `maxBytes`. */
export function fitHistory(doc: GzsDoc, maxBytes: number): GzsDoc {
  let size = Buffer.byteLength(JSON.stringify(doc));
  if (size <= maxBytes) return doc;
  const h = doc.history;
  let drop = 0;
  while (size > maxBytes && drop < h.length) {
    // the entry and the comma that separated it from the next one
    size -= Buffer.byteLength(JSON.stringify(h[drop])) + (drop < h.length - 1 ? 1 : 0);
    drop++;
  }
  return { ...doc, history: h.slice(drop) };
}

/** Bytes of JSON per part of a document, for a "too large" message. */
export function docSizes(doc: GzsDoc): { total: number; table: number; history: number; ownership: number } {
  const b = (v: unknown) => Buffer.byteLength(JSON.stringify(v));
  return { total: b(doc), table: b(doc.table), history: b(doc.history), ownership: b(doc.ownership) };
}

export interface OwnerAt {
  shard: number;
  at: number;
  /** null when unknown (`exact: false`) */
  zone: string | null;
  locked: boolean | null;
  /**
   * the newest epoch at or before `at` that changed a shard's owner or lock (or the log's base
   * epoch): the ownership in force at `at` is that epoch's; null when unknown
   */
  epoch: number | null;
  /** true when `at` is within the ownership log (from its base's time up to now) */
  exact: boolean;
}

/**
 * Who owned `shard` at time `at` (ms since the Unix epoch), from the ownership log: exact from the
 * log's base time on (at least the retention period), unknown (null, `exact: false`) before it,
 * and after `now` (a change may still come). For `GET /owner`, DRC's audit and switch reports.
 */
export function ownerAt(
  doc: Pick<GzsDoc, 'ownership'>,
  shard: number,
  at: number,
  now = Date.now(),
): OwnerAt {
  const r = at <= now ? logView(doc.ownership).ownerAt(shard, at) : null;
  return r
    ? { shard, at, zone: r.zone, locked: r.locked, epoch: r.epoch, exact: true }
    : { shard, at, zone: null, locked: null, epoch: null, exact: false };
}

/**
 * Who owned `shard` at `epoch`. The harness's routing checker uses it: every acknowledged request
 * must be served by this owner. From an ownership log when there is one (a document, or an answer
 * of `GET /ownership`): exact for every epoch it retains. Given only `{table, history}` (what
 * `GET /history` answers) it undoes the history's owner changes newer than `epoch`, newest first:
 * `null` zone when the history no longer reaches back that far (`exact: false`).
 */
export function ownerAtEpoch(
  source: (Pick<GzsDoc, 'table' | 'history'> & { ownership?: OwnershipLog }) | OwnershipAnswer,
  shard: number,
  epoch: number,
): { zone: string | null; exact: boolean } {
  if ('retainedFrom' in source || source.ownership) {
    const view = 'retainedFrom' in source ? ownershipView(source) : logView(source.ownership!);
    const r = view.ownerAtEpoch(shard, epoch);
    return r ? { zone: r.zone, exact: true } : { zone: null, exact: false };
  }
  const doc = source;
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
