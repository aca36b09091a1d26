/**
 * §7.2 Convergence: after heal and drain, every replicated table is identical in every eZone
 * (row-by-row digests, harness/checkers/digest.ts).
 */
import { compareDigests, type TableDigest } from './digest.js';
import { type CheckInput, type ClientOp, isOrderWrite, lineOf, opsByOrder } from './input.js';
import {
  type CheckResult,
  type Evidence,
  judge,
  MAX_EVIDENCE,
  type Unread,
  unreadReason,
} from './verdict.js';

/** Per replicated table, per eZone, the table's digest (eZones that could not be read are absent). */
export type TableDigests = Record<string, Record<string, Pick<TableDigest, 'rows' | 'sha' | 'rowHashes'>>>;

export interface ConvergenceResult extends CheckResult {
  /** per replicated table, per eZone: row count and digest */
  tables: Record<string, Record<string, { rows: number; sha: string }>>;
}

/**
 * §7.2 Convergence: every replicated table is identical in every eZone, compared row by row (a
 * digest per table and eZone; where they differ, the first differing primary keys, found by
 * per-row hashes). A row missing in one eZone is a difference, never a skip.
 */
export function compareTables(
  zones: string[],
  digests: TableDigests,
  unread: Unread = {},
): ConvergenceResult {
  const v: string[] = [];
  const tables: ConvergenceResult['tables'] = {};
  let checked = 0;
  let compared = 0;
  for (const [table, byZone] of Object.entries(digests)) {
    tables[table] = Object.fromEntries(
      Object.entries(byZone).map(([z, d]) => [z, { rows: d.rows, sha: d.sha.slice(0, 12) }]),
    );
    if (Object.keys(byZone).length < 2) continue;
    compared++;
    checked += Math.max(...Object.values(byZone).map((d) => d.rows));
    const cmp = compareDigests(byZone);
    if (cmp.same) continue;
    const counts = Object.entries(byZone)
      .map(([z, d]) => `${z} ${d.rows} rows ${d.sha.slice(0, 12)}`)
      .join(', ');
    const where = (pk: string): string => {
      const missing = Object.entries(byZone)
        .filter(([, d]) => !d.rowHashes.has(pk))
        .map(([z]) => z);
      return `${pk} (${missing.length ? `missing in ${missing.join(', ')}` : 'differs'})`;
    };
    v.push(
      `table ${table} differs: ${counts}; ` +
        (cmp.differing.length
          ? `first differing primary keys: ${cmp.differing.map(where).join(', ')}${cmp.more ? ` and ${cmp.more} more` : ''}`
          : 'same rows in another order'),
    );
  }
  const unknown =
    zones.length < 2
      ? 'fewer than two eZones: nothing to compare'
      : Object.keys(digests).length === 0
        ? 'no replicated table'
        : compared === 0
          ? (unreadReason(unread) ?? 'no table could be read in two eZones')
          : unreadReason(unread);
  return { ...judge({ checked, violations: v, unknown }), tables };
}

/**
 * §7.2 over a drill's inputs: the digests of every replicated table, per eZone. Evidence per
 * differing table: its first differing primary keys and, for the orders table, the history lines
 * of those orders' writes.
 */
export function convergence(
  input: Pick<CheckInput, 'zones' | 'digests' | 'unread'> &
    Partial<Pick<CheckInput, 'events' | 'ordersTable'>>,
): ConvergenceResult {
  const r = compareTables(input.zones, input.digests, input.unread);
  if (r.verdict !== 'fail') return r;
  const ordersTable = input.ordersTable ?? 'orders';
  const byOrder = input.events ? opsByOrder(input.events) : new Map();
  const evidence: Evidence[] = [];
  for (const [table, byZone] of Object.entries(input.digests)) {
    if (Object.keys(byZone).length < 2) continue;
    const cmp = compareDigests(byZone);
    if (cmp.same) continue;
    const pk = cmp.differing[0];
    const ops: ClientOp[] = table === ordersTable && pk !== undefined ? (byOrder.get(pk) ?? []) : [];
    evidence.push({
      table,
      ...(table === ordersTable && pk !== undefined ? { orderId: pk } : {}),
      lines: ops.filter(isOrderWrite).map(lineOf),
    });
  }
  return { ...r, evidence: evidence.slice(0, MAX_EVIDENCE) };
}
