// Launcher kind `gzs`: the routing-table service, on its file or ZooKeeper store.
import { join } from 'node:path';
import { hostAddress, type Topology } from '../../topology/index.js';
import { UsageError } from '../../util/errors.js';
import { terminate } from '../host.js';
import { projectPart, requireBuilt } from './node-part.js';
import { healthzOk } from './probe.js';
import { type InstanceSpec, instanceName, type ProcessKind } from './types.js';

export interface GzsParams {
  topologyFile: string;
  /** `file:<path>` or `zk:<host:port>/<path>` (see storeFor) */
  store: string;
}

/**
 * The store GZS uses, from EZ_GZS_STORE at `up` time: unset or `file` → a table file in GZS's
 * data dir (the topology's epoch-1 table on first start); `zk` → the topology's
 * deployment.zookeeper (start it too: `--with zookeeper`); a full `file:`/`zk:` spec as given.
 */
export function storeFor(topology: Topology, dataDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const sel = (env.EZ_GZS_STORE ?? '').trim();
  if (sel === '' || sel === 'file') return `file:${join(dataDir, 'table.json')}`;
  if (sel === 'zk') {
    const zk = topology.deployment.zookeeper;
    if (!zk) {
      throw new UsageError(
        `EZ_GZS_STORE=zk needs deployment.zookeeper in ${topology.file} (e.g. "zookeeper: { host: local, port: 27181 }")`,
      );
    }
    return `zk:${hostAddress(topology, zk.host)}:${zk.port}/ezctl/${topology.name}/gzs`;
  }
  if (sel.startsWith('file:') || sel.startsWith('zk:')) return sel;
  throw new UsageError(
    `EZ_GZS_STORE=${JSON.stringify(sel)}: expected file, zk, file:<path> or zk:<host:port>/<path>`,
  );
}

/** GZS (one instance): owns the routing table, pushes it to every SDK. */
export const gzs: ProcessKind<GzsParams> = {
  kind: 'gzs',
  // only when ZooKeeper is started too (`--with zookeeper`); otherwise ignored
  after: ['zookeeper'],
  readyTimeoutMs: 20_000,
  description: 'GZS, the routing-table service (file store; EZ_GZS_STORE=zk for ZooKeeper)',

  instances({ topology, dataDir, hostOf }): InstanceSpec<GzsParams>[] {
    const dir = dataDir(undefined, 'gzs');
    const ep = topology.deployment.gzs;
    return [
      {
        name: instanceName('gzs'),
        kind: 'gzs',
        host: ep.host,
        address: hostOf(undefined, 'gzs').address,
        port: ep.port,
        dataDir: dir,
        logFile: join(dir, 'gzs.log'),
        params: { topologyFile: topology.file, store: storeFor(topology, dir) },
      },
    ];
  },

  async prepare(spec, host) {
    // the data dir is the log's: spawnDetached makes it
    await requireBuilt(spec.name, host, 'src/gzs/main.js');
  },

  async command(spec, host) {
    return projectPart(host, 'src/gzs/main.js', {
      topologyFile: spec.params.topologyFile,
      address: spec.address,
      port: spec.port,
      args: ['--store', spec.params.store, '--instance', spec.name],
    });
  },

  async ready(spec, host) {
    return healthzOk(host, spec.port);
  },

  async stop(_spec, host, pid, startToken) {
    // SIGTERM: GZS closes its subscribers and the store, then exits
    await terminate(host, pid, { startToken, graceMs: 10_000 });
  },

  endpoints(spec) {
    return { url: `http://${spec.address}:${spec.port}`, store: spec.params.store };
  },
};
