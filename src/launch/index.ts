export * from '../shared/mysql-accounts.js';
export {
  type ClusterOptions,
  type ClusterStatus,
  type DownOptions,
  type DownResult,
  down,
  type OnProgress,
  type ProcessStatus,
  type ProgressEvent,
  plan,
  planContext,
  status,
  type UpOptions,
  up,
} from './cluster.js';
export { type Host, hostFor, LocalHost, terminate, waitGone } from './host.js';
export { LaunchError, startInstance } from './instance.js';
export { KINDS, kindOf, optionalKinds, selectKinds } from './kinds/index.js';
export type { InstanceSpec, LaunchCommand, PlanContext, ProcessKind } from './kinds/types.js';
export { clusterDir, type ProcessRecord, readState, resolveStateDir, stateFile } from './state.js';
