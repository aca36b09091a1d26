/**
 * The verdict every checker of DESIGN §7 returns: `fail` when a violation was found, `unknown`
 * (with the reason) when nothing could be examined or part of what the invariant covers could not
 * be read, `ok` only when everything it covers was seen to keep the invariant. A checker that
 * examined nothing says unknown, never ok.
 */
export type Verdict = 'ok' | 'fail' | 'unknown';

/** What proves one violation: the order (or row) it is about and the history lines that show it. */
export interface Evidence {
  orderId?: string;
  shard?: number;
  zone?: string;
  table?: string;
  /** `index` of the history events (history.jsonl line order) that prove it */
  lines: number[];
}

export interface CheckResult {
  verdict: Verdict;
  /** verdict === 'ok' (kept for callers that read a boolean) */
  ok: boolean;
  /** what was examined (orders, requests, rows: each check says) */
  checked: number;
  /** examined but not judgeable (routing: the epoch is older than GZS's history) */
  unjudged?: number;
  /** why the verdict is unknown */
  reason?: string;
  violations: string[];
  /** one per violation, same order, same cap (drill checkers; absent in the workload's) */
  evidence?: Evidence[];
}

/** An order row as one eZone holds it. */
export interface StoredOrder {
  id: string;
  state: string;
  version: number;
  updatedAt: string;
}

export type ZoneRows = Record<string, Map<string, StoredOrder>>;
/** eZones whose database could not be read, with why */
export type Unread = Record<string, string>;

export const MAX_EVIDENCE = 20;

const cap = <T>(xs: T[]): T[] => xs.slice(0, MAX_EVIDENCE);

export const capped = (violations: string[]): string[] =>
  cap(violations).concat(
    violations.length > MAX_EVIDENCE ? [`… and ${violations.length - MAX_EVIDENCE} more`] : [],
  );

/**
 * The verdict from what a check saw: any violation fails; otherwise a reason not to judge (nothing
 * examined, a part unreadable) makes it unknown; otherwise ok.
 */
export function judge(r: {
  checked: number;
  violations: string[];
  evidence?: Evidence[];
  unknown?: string;
  unjudged?: number;
}): CheckResult {
  const verdict: Verdict = r.violations.length > 0 ? 'fail' : r.unknown ? 'unknown' : 'ok';
  return {
    verdict,
    ok: verdict === 'ok',
    checked: r.checked,
    ...(r.unjudged ? { unjudged: r.unjudged } : {}),
    ...(verdict === 'unknown' ? { reason: r.unknown } : {}),
    violations: capped(r.violations),
    ...(r.evidence ? { evidence: cap(r.evidence) } : {}),
  };
}

/** A check that could not look at anything (its inputs could not be read). */
export const notExamined = (reason: string): CheckResult =>
  judge({ checked: 0, violations: [], unknown: reason });

/** Why a check that covers every eZone cannot say ok: the eZones it could not read. */
export const unreadReason = (unread: Unread): string | undefined => {
  const zones = Object.entries(unread);
  return zones.length ? `could not read ${zones.map(([z, why]) => `${z} (${why})`).join(', ')}` : undefined;
};
