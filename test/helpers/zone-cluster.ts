// The real `ezctl up` on a topology rewritten to free ports, for integration tests.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import {
  type ClusterStatus,
  type DownResult,
  down,
  type OnProgress,
  status,
  type UpOptions,
  up,
} from '../../src/launch/cluster.js';
import { LINK_KINDS, loadTopology, type Topology, ZONE_PORT_OFFSETS } from '../../src/topology/index.js';
import { defaultTopologyPath } from '../../src/util/paths.js';
import { tempDir } from './run-dir.js';
import { freePortRun, freePorts } from './services.js';

/**
 * Copy a topology file into `outDir` with every port replaced by a free one (explicit per-eZone
 * ports instead of portBase) and the fences path made absolute, so a test never collides with a
 * developer's running cluster or another test run. Returns the new file's path.
 */
export async function writeFreePortTopology(
  outDir: string,
  topologyFile = defaultTopologyPath(),
): Promise<string> {
  const src = resolve(topologyFile);
  loadTopology(src); // a broken file fails here, with its own name
  for (let attempt = 1; ; attempt++) {
    const doc = parse(readFileSync(src, 'utf8'));
    doc.fences = resolve(dirname(src), doc.fences);
    if (doc.schema) doc.schema = resolve(dirname(src), doc.schema);
    const zones = Object.keys(doc.deployment.zones);
    const kinds = Object.keys(ZONE_PORT_OFFSETS);
    const endpoints = ['gzs', 'router', 'zookeeper'].filter((k) => doc.deployment[k]);
    const ports = await freePorts(zones.length * kinds.length + endpoints.length);
    for (const name of endpoints) doc.deployment[name] = { ...doc.deployment[name], port: ports.pop() };
    // the link server's API port, and right above it every link's listen port (src/topology/links.ts)
    const linkPorts = 1 + (zones.length + 1) * zones.length * LINK_KINDS.length;
    doc.deployment.links = {
      ...(doc.deployment.links ?? { host: 'local' }),
      port: await freePortRun(linkPorts),
    };
    for (const z of zones) {
      const { portBase: _ignored, ...rest } = doc.deployment.zones[z];
      const zonePorts = Object.fromEntries(kinds.map((k) => [k, ports.pop()]));
      // the eZone's replicators listen on ports.drc + k, one per other eZone: all of them free
      zonePorts.drc = await freePortRun(zones.length - 1);
      doc.deployment.zones[z] = { ...rest, ports: zonePorts };
    }
    const out = join(outDir, 'topology.yaml');
    writeFileSync(out, stringify(doc));
    try {
      loadTopology(out); // 3+ eZones claim drc+1.. too: on the rare collision, draw again
      return out;
    } catch (err) {
      if (attempt >= 5) throw err;
    }
  }
}

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
