// DRC (DESIGN §1, §5): bidirectional MySQL replication between eZones from the binlog, with
// last-writer-wins, loop prevention, checkpoints in the target, illegal-write reports, and the
// wait the switch and the tests use (waitApplied). The binlog reader is shared with the
// invalidator (src/cache/).
export { Applier, type Checkpoint } from './applier.js';
export { BinlogSource, type BinlogSourceOptions, formatGtidPos, parseGtidPos } from './binlog.js';
export { answerOwnership, GzsOwnership, type GzsOwnershipOptions, ownerFromLog } from './gzs-ownership.js';
export {
  type ConflictRow,
  type DirectionStatus,
  drcStatus,
  formatConflicts,
  formatDrcStatus,
  formatIllegalWrites,
  type IllegalWriteRow,
  listConflicts,
  listIllegalWrites,
  resumeDirection,
} from './inspect.js';
export { installDrc, purgeOldTombstones, verifyDrc } from './install.js';
export { createDrcMetrics, type DrcState, RateWindow, summaryMs } from './metrics.js';
export {
  checkDirection,
  directions,
  drcInstanceName,
  drcPort,
  invalidatorInstanceName,
  readerServerId,
  serverIdOf,
  tableSpecs,
  zoneOfServerId,
} from './names.js';
export {
  type IllegalWrite,
  judgeWrites,
  latestWriteMs,
  type Ownership,
  type OwnershipSource,
  type Verdicts,
} from './ownership.js';
export { type Endpoint, Replicator, type ReplicatorOptions } from './replicator.js';
export { columnTypesQuery, DRC, installScript, parseColumnTypes } from './schema.js';
export type { Op, RowChange, SourcePosition, SourceTxn, TableSpec } from './types.js';
export {
  type Applied,
  checkpointOf,
  currentPosition,
  drainDirection,
  ownSequence,
  readerConnection,
  type SourcePoint,
  type WaitAppliedOptions,
  waitApplied,
} from './wait.js';
