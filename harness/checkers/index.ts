// The drill checkers of DESIGN §7, one per invariant, over history.jsonl and what the eZones hold
// after heal and drain; checkAll runs them all. Figures for the report: figures.ts.
import { cacheCoherence } from './cache-coherence.js';
import { convergence } from './convergence.js';
import { type CheckInput, clientOps } from './input.js';
import { locking } from './locking.js';
import { noLostOrder } from './no-lost-order.js';
import { routingCorrectness } from './routing-correctness.js';
import { singleWriter } from './single-writer.js';
import { validLifecycle } from './valid-lifecycle.js';
import { type CheckResult, notExamined, type Verdict } from './verdict.js';

export { cacheCoherence } from './cache-coherence.js';
export { type ConvergenceResult, compareTables, convergence, type TableDigests } from './convergence.js';
export * from './figures.js';
export type { CacheSample, CheckInput, ClientOp, IllegalWriteReport, Ownership } from './input.js';
export { locking } from './locking.js';
export { noLostOrder } from './no-lost-order.js';
export { orderLocksFromHistory, ownershipFromView } from './ownership.js';
export { routingCorrectness } from './routing-correctness.js';
export { ownerOfAnswer, singleWriter } from './single-writer.js';
export { validLifecycle } from './valid-lifecycle.js';
export * from './verdict.js';

/** the checkers in DESIGN §7 order, by the name the report shows */
export const CHECKERS = {
  noLostOrder,
  convergence,
  singleWriter,
  validLifecycle,
  routingCorrectness,
  locking,
  cacheCoherence,
} as const satisfies Record<string, (input: CheckInput) => CheckResult>;

export type CheckName = keyof typeof CHECKERS;

export interface DrillVerdict {
  /** fail if any check failed, else unknown if any is unknown, else ok */
  verdict: Verdict;
  checks: Record<CheckName, CheckResult>;
}

/**
 * Run every checker. A malformed history (a completion with no invoke, an invoke while its
 * process's operation is open) leaves the history checkers unknown with why; convergence, which
 * does not read the history, still runs.
 */
export function checkAll(input: CheckInput): DrillVerdict {
  let malformed: string | undefined;
  try {
    clientOps(input.events);
  } catch (e) {
    malformed = `malformed history: ${(e as Error).message}`;
  }
  const checks = {} as Record<CheckName, CheckResult>;
  for (const [name, check] of Object.entries(CHECKERS) as [CheckName, (i: CheckInput) => CheckResult][]) {
    if (malformed && name !== 'convergence') checks[name] = notExamined(malformed);
    else if (malformed) checks[name] = convergence({ ...input, events: undefined });
    else checks[name] = check(input);
  }
  const vs = Object.values(checks).map((c) => c.verdict);
  return { verdict: vs.includes('fail') ? 'fail' : vs.includes('unknown') ? 'unknown' : 'ok', checks };
}
