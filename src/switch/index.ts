// Switching (DESIGN §6): planned shard moves, emergency failover on an outside-in verdict,
// failback, resuming a driver's journal entries, and what is in motion — driven from the control
// machine against GZS's journal.
export { type DriverOptions, defaultHolder, type SwitchEvent } from './driver.js';
export { type FailbackOptions, type FailbackReport, runFailback } from './failback.js';
export {
  type FailoverOptions,
  type FailoverReport,
  originalShards,
  outsideInVerdict,
  runFailover,
  type Verdict,
} from './failover.js';
export { formatLocks, type LockList, listLocks, releaseLock } from './locks.js';
export { type MoveOptions, type MovePlan, type MoveReport, planMove, runMove } from './move.js';
export { type ResumeReport, resumeSwitches } from './resume.js';
export { formatSwitchStatus, type SwitchStatus, switchStatus } from './status.js';
