/**
 * Row versions for last-writer-wins (DESIGN §5): a version is `(updated_at, origin eZone server
 * id)`, compared as a pair — updated_at first, then the origin's server id — by every eZone, so
 * every eZone picks the same winner, ties included.
 */

/** A row as decoded from the binlog or read by mysql2 (`dateStrings`, big numbers as strings). */
export type Row = Record<string, unknown>;

export interface Version {
  /** updated_at as written (DATETIME(6) text or BIGINT µs) */
  at: string;
  /** server id of the eZone that wrote this version; 0 for rows older than DRC */
  origin: number;
}

/** The invisible column DRC adds to every replicated table (set by DRC's triggers). */
export const ORIGIN_COLUMN = 'drc_origin';

const DIGITS = /^\d+$/;

/**
 * A sort key for updated_at that compares correctly as text: DATETIME text keeps its fixed-width
 * form; an integer (BIGINT µs) is zero-padded to 20 digits. The triggers store tombstones with
 * the same key (see schema.ts), so the applier and SQL agree.
 */
export function atKey(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value).padStart(20, '0');
  const s = String(value);
  return DIGITS.test(s) ? s.padStart(20, '0') : s;
}

export function compareVersions(a: Version, b: Version): number {
  const ka = atKey(a.at);
  const kb = atKey(b.at);
  if (ka !== kb) return ka < kb ? -1 : 1;
  return a.origin === b.origin ? 0 : a.origin < b.origin ? -1 : 1;
}

export const sameVersion = (a: Version | null, b: Version | null): boolean =>
  a === null || b === null ? a === b : compareVersions(a, b) === 0;

/** The version a row carries; `fallbackOrigin` when the image has no drc_origin column. */
export function versionOf(row: Row, updatedAt: string, fallbackOrigin = 0): Version {
  const o = row[ORIGIN_COLUMN];
  return {
    at: String(row[updatedAt] ?? ''),
    origin: o === undefined || o === null ? fallbackOrigin : Number(o),
  };
}

export const formatVersion = (v: Version | null): string => (v ? `${v.at}@${v.origin}` : '-');

/**
 * The identity of a row inside one table: its primary-key values as text joined by U+001F —
 * the same text DRC's delete trigger stores in `drc_tombstones.pk` (CONCAT_WS(CHAR(31), ...)).
 */
export function pkKey(row: Row, primaryKey: readonly string[]): string {
  if (primaryKey.length === 1) return pkText(row[primaryKey[0]]);
  return primaryKey.map((c) => pkText(row[c])).join('\u001f');
}

function pkText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return String(v);
}

/**
 * updated_at → µs since the Unix epoch: BIGINT µs as is; DATETIME text read as this machine's
 * local time (what NOW(6) writes when the server runs in the same time zone). NaN when unknown.
 */
export function updatedAtToUs(v: unknown): number {
  if (v === null || v === undefined) return Number.NaN;
  const s = String(v);
  if (DIGITS.test(s)) return Number(s);
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?$/.exec(s);
  if (!m) return Number.NaN;
  const ms = Date.parse(`${m[1]}T${m[2]}`);
  return ms * 1000 + Number((m[3] ?? '').padEnd(6, '0'));
}

/** Wall-clock µs with sub-ms resolution (timeOrigin + the monotonic clock). */
export const nowUs = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);

/**
 * What kind of updated_at a SQL column type gives (DESIGN §5): a DATETIME/TIMESTAMP (µs with
 * precision 6) or an integer count of µs; null for a type last-writer-wins cannot compare. Takes
 * information_schema's DATA_TYPE and the synonyms a CREATE TABLE may spell (INTEGER, DEC, NUMERIC, FIXED).
 */
export function updatedAtKind(sqlType: string): 'datetime' | 'integer' | null {
  const t = sqlType.toLowerCase();
  if (t === 'datetime' || t === 'timestamp') return 'datetime';
  if (['bigint', 'int', 'integer', 'decimal', 'dec', 'numeric', 'fixed'].includes(t)) return 'integer';
  return null;
}
