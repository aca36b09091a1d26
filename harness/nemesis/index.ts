// Nemeses (Jepsen's word) behind one interface: link faults, killed processes, switching actions,
// each start/stop recorded in the drill history by runNemesis; built from a drill file's schedule
// entry by nemesisFromSpec.
export {
  killDalNemesis,
  killDrcNemesis,
  killGzsNemesis,
  killMatching,
  killZoneNemesis,
  restartDown,
} from './kill.js';
export { isolateNemesis, latencyNemesis, type PartitionMode, partitionNemesis } from './links.js';
export { type RunNemesisOptions, runNemesis } from './run.js';
export {
  ACTIONS,
  type FromSpecOptions,
  NEMESIS_NAMES,
  type NemesisName,
  nemesisFromSpec,
  SCHEDULE_KEYS,
} from './spec.js';
export { failbackNemesis, failoverNemesis, moveNemesis } from './switch.js';
export { type Nemesis, type NemesisContext, NemesisNotDone } from './types.js';
