// The real `ezctl up` on a topology rewritten to free ports, for integration tests.
import { join } from 'node:path';
import {
  type ClusterStatus,
  type DownResult,
  down,
  type OnProgress,
  status,
  type UpOptions,
  up,
} from '../../src/launch/cluster.js';
import { loadTopology, type Topology, writeFreePortTopology } from '../../src/topology/index.js';
import { tempDir } from './run-dir.js';

export { writeFreePortTopology };

export interface ZoneCluster {
  topology: Topology;
  topologyFile: string;
  stateDir: string;
  /** what the first `up` returned */
  started: ClusterStatus;
  up(opts?: Omit<UpOptions, 'stateDir'>, onProgress?: OnProgress): Promise<ClusterStatus>;
  status(): Promise<ClusterStatus>;
  down(opts?: { purge?: boolean }, onProgress?: OnProgress): Promise<DownResult>;
}

/**
 * The real `up()` on a topology (default: two-zones) rewritten to free ports, with a private state
 * directory. Call `down()` in afterAll (the global teardown reaps leftovers anyway).
 */
export async function startZoneCluster(
  topologyFile?: string,
  opts: Omit<UpOptions, 'stateDir'> & { onProgress?: OnProgress } = {},
): Promise<ZoneCluster> {
  const dir = tempDir('cluster');
  const file = await writeFreePortTopology(dir, topologyFile);
  const topology = loadTopology(file);
  const stateDir = join(dir, 'state');
  const { onProgress, ...upOpts } = opts;
  let started: ClusterStatus;
  const failures: string[] = [];
  try {
    started = await up(topology, { ...upOpts, stateDir }, (e) => {
      if (e.type === 'failed') failures.push(`${e.name}: ${e.message ?? ''}\n${e.logTail ?? ''}`);
      onProgress?.(e);
    });
  } catch (err) {
    await down(topology, { stateDir }).catch(() => undefined); // whatever did start
    // the test's failure names why each process failed, with its log tail
    if (err instanceof Error && failures.length > 0) err.message += `\n${failures.join('\n')}`;
    throw err;
  }
  return {
    topology,
    topologyFile: file,
    stateDir,
    started,
    up: (o = {}, p) => up(topology, { ...upOpts, ...o, stateDir }, p),
    status: () => status(topology, { stateDir }),
    down: (o = {}, p) => down(topology, { ...o, stateDir }, p),
  };
}
