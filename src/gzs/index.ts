// GZS (DESIGN §1): the routing-table service — its HTTP client for tools (GzsApi), the pure views of
// its history and ownership log that the DRC audit, the switch and the harness judge by, and the
// in-process start used by `ezctl gzs serve`, tests and benches. Parts that route use the SDK instead.
export {
  type ChangeResult,
  GzsApi,
  type GzsApiOptions,
  type HistoryResult,
  type SwitchAnswer,
} from './api.js';
export { type AppliedChange, type Change, describeChange } from './changes.js';
export { type GzsDoc, type HistoryEntry, type OwnerAt, ownerAt, ownerAtEpoch } from './doc.js';
export { GzsError } from './errors.js';
export {
  BEFORE_NO_RETURN,
  type BeginRequest,
  OPEN_STATES,
  type SwitchEntry,
  type SwitchKind,
  type SwitchState,
  type SwitchStep,
} from './journal.js';
export {
  DEFAULT_OWNERSHIP_RETENTION_MS,
  mergeOwnership,
  type OwnerState,
  type OwnershipView,
  ownershipView,
} from './ownership.js';
export { defaultStoreSpec, type StartGzsOptions, startGzs } from './serve.js';
export { checkGzsSecrets, DEV_TOKEN, GzsServer } from './server.js';
