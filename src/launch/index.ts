// The launcher (DESIGN §1, docs/operations.md): `ezctl up/status/down` over process kinds, the
// `Host` every kind acts through, cluster state, and one helper that starts a project part as a
// real process for tests, benches and drills.
export {
  type ClusterOptions,
  type ClusterStatus,
  type DownOptions,
  type DownResult,
  down,
  linkPlan,
  type OnProgress,
  type ProcessStatus,
  type ProgressEvent,
  type ProgressType,
  plan,
  planContext,
  status,
  type UpOptions,
  up,
} from './cluster.js';
export { formatDown, formatProgress, formatStatus, formatUpTable, statusSummary } from './format.js';
export { type Host, hostFor, LocalHost, sleep, terminate, waitGone } from './host.js';
export { LaunchError, startInstance, waitReady } from './instance.js';
export { KINDS, kindOf, optionalKinds, selectKinds } from './kinds/index.js';
export type { InstanceSpec, LaunchCommand, LinkPlan, PlanContext, ProcessKind } from './kinds/types.js';
export { type NodePartOptions, type NodePartProcess, startNodePart } from './node-part.js';
export { clusterDir, type ProcessRecord, readState, resolveStateDir, stateFile } from './state.js';
