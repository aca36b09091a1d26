// Launcher kind `invalidator`: the cache invalidator per eZone.
import { join } from 'node:path';
import { invalidatorInstanceName } from '../../topology/index.js';
import { formatHostPort } from '../../util/parse.js';
import { terminate } from '../host.js';
import { projectPart } from './node-part.js';
import { probeHealthz } from './probe.js';
import type { LaunchCommand, ProcessKind } from './types.js';

export interface InvalidatorParams {
  zone: string;
  topologyFile: string;
  /** its eZone's MariaDB and Redis (`host:port`, on the hosts they run on) */
  mysql: string;
  redis: string;
}

/** Per eZone: local binlog → DEL of the changed rows' Redis keys + the `ez:changes` stream. */
export const invalidator: ProcessKind<InvalidatorParams> = {
  kind: 'invalidator',
  after: ['mariadb', 'redis'],
  readyTimeoutMs: 30_000,
  description: 'Cache invalidator per eZone (local binlog -> Redis DEL + ez:changes stream)',

  instances({ topology, dataDir, hostOf }) {
    return topology.zones.map((z) => {
      const dir = dataDir(z.id, 'invalidator');
      return {
        name: invalidatorInstanceName(z.id),
        kind: 'invalidator',
        zone: z.id,
        ...hostOf(z.id, 'invalidator'),
        port: topology.deployment.zones[z.id].ports.invalidator,
        dataDir: dir,
        logFile: join(dir, 'invalidator.log'),
        params: {
          zone: z.id,
          topologyFile: topology.file,
          mysql: formatHostPort({
            host: hostOf(z.id, 'mariadb').address,
            port: topology.deployment.zones[z.id].ports.mysql,
          }),
          redis: formatHostPort({
            host: hostOf(z.id, 'redis').address,
            port: topology.deployment.zones[z.id].ports.redis,
          }),
        },
      };
    });
  },

  async prepare() {
    // nothing: the data dir is the log's, and spawnDetached makes it (no ssh round trip of its own)
  },

  async command(spec, host): Promise<LaunchCommand> {
    const { topologyFile, zone, mysql, redis } = spec.params;
    return projectPart(host, 'src/cache/main.js', {
      topologyFile,
      address: spec.address,
      port: spec.port,
      args: ['--zone', zone, '--mysql', mysql, '--redis', redis],
    });
  },

  async ready(spec, host) {
    // answering at all is ready: a replicator still connecting to its source says so in /healthz (503)
    return (await probeHealthz(host, spec.port))?.body.includes('"state"') ?? false;
  },

  async stop(_spec, host, pid, startToken) {
    await terminate(host, pid, { startToken, graceMs: 10_000 });
  },

  endpoints(spec) {
    return { healthz: `http://${spec.address}:${spec.port}/healthz` };
  },
};
