/**
 * A topology file rewritten to free ports, for tests and benches that start real clusters beside a
 * developer's own (and beside each other).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { freePortRun, freePorts } from '../util/net.js';
import { defaultTopologyPath } from '../util/paths.js';
import { LINK_KINDS } from './links.js';
import { loadTopology } from './load.js';
import { ZONE_PORT_OFFSETS } from './schema.js';

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
