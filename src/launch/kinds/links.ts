/**
 * Launcher kind `links`: the built-in link server (Toxiproxy API) on `deployment.links`, and every
 * path between sites as a named link on it with the topology's latency (DESIGN §8). Started first,
 * so the parts that connect through links find them; with `--toxiproxy URL` a real Toxiproxy
 * holds the links and no process is started (`up` populates it), with `--no-links` nothing is.
 */
import { join } from 'node:path';
import { linksApiPort } from '../../topology/index.js';
import { terminate } from '../host.js';
import { projectPart } from './node-part.js';
import { healthzOk } from './probe.js';
import { instanceName, type ProcessKind } from './types.js';

export interface LinksParams {
  topologyFile: string;
  url: string;
}

export const links: ProcessKind<LinksParams> = {
  kind: 'links',
  after: [],
  readyTimeoutMs: 15_000,
  description: 'link server (Toxiproxy API): every path between sites as a named link with latency',

  instances({ topology, dataDir, links: plan, hostOf }) {
    if (!plan.on || plan.external) return [];
    const dir = dataDir(undefined, 'links');
    return [
      {
        name: instanceName('links'),
        kind: 'links',
        host: topology.deployment.links?.host ?? 'local',
        // the listeners bind here; the API stays on 127.0.0.1 (Toxiproxy's API has no authentication)
        address: hostOf(undefined, 'links').address,
        port: linksApiPort(topology),
        dataDir: dir,
        logFile: join(dir, 'links.log'),
        params: { topologyFile: topology.file, url: plan.url },
      },
    ];
  },

  async prepare() {
    // nothing: the data dir is the log's, and spawnDetached makes it
  },

  async command(spec, host) {
    // the API on 127.0.0.1 (no authentication); the listeners bind where the links say
    return projectPart(host, 'src/links/main.js', {
      topologyFile: spec.params.topologyFile,
      address: '127.0.0.1',
      port: spec.port,
      args: [],
    });
  },

  async ready(spec, host) {
    return healthzOk(host, spec.port, '127.0.0.1');
  },

  async bootstrap(spec) {
    // links are state of the server process: (re)create them on every start (idempotent: populate replaces)
    const [{ loadTopology }, { createLinks }] = await Promise.all([
      import('../../topology/index.js'),
      import('../../links/index.js'),
    ]);
    await createLinks(loadTopology(spec.params.topologyFile), spec.params.url);
  },

  async stop(_spec, host, pid, startToken) {
    await terminate(host, pid, { startToken, graceMs: 5000 });
  },

  endpoints(spec) {
    return { api: spec.params.url };
  },
};
