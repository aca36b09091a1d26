/** Run GZS as a long-running process (the `gzs` launcher kind, `ezctl gzs serve`, tests, bench). */
import { join, resolve } from 'node:path';
import { loadTopology } from '../topology/index.js';
import type { Topology } from '../topology/types.js';
import { createLogger } from '../util/log.js';
import { onShutdown } from '../util/ops.js';
import { GzsServer } from './server.js';
import { describeStore, FileStore, parseStoreSpec, type StoreSpec, type TableStore } from './store.js';
import { ZkStore } from './zk-store.js';

export interface ServeGzsOptions {
  /** topology file (default: the embedded two-zones) */
  topology?: string;
  host?: string;
  /** default: deployment.gzs.port; 0 = any free port */
  port?: number;
  /** `file:<path>` or `zk:<hosts>/<path>`; default file:./.ezctl/<cluster>/_cluster/gzs/table.json */
  store?: string;
  token?: string;
  leaseMs?: number;
  heartbeatMs?: number;
  instance?: string;
}

/** The default store of a topology: the file the `gzs` launcher kind uses under the default state dir. */
export function defaultStoreSpec(topology: Topology): string {
  return `file:${resolve(join(process.env.EZCTL_HOME ?? '.ezctl', topology.name, '_cluster', 'gzs', 'table.json'))}`;
}

export function openStore(spec: StoreSpec, instance: string, log = createLogger('gzs')): TableStore {
  return spec.type === 'file'
    ? new FileStore(spec.path)
    : new ZkStore({ connect: spec.connect, path: spec.path, instance, log });
}

/** Open the store, listen, stop cleanly on SIGTERM/SIGINT. Resolves once listening. */
export async function serveGzs(opts: ServeGzsOptions): Promise<GzsServer> {
  const topology = loadTopology(opts.topology);
  const spec = parseStoreSpec(opts.store ?? process.env.EZ_GZS_STORE ?? defaultStoreSpec(topology));
  const instance = opts.instance ?? `${process.pid}`;
  const log = createLogger('gzs', { instance, cluster: topology.name });
  const store = openStore(spec, instance, log);
  const server = new GzsServer({
    topology,
    store,
    token: opts.token,
    host: opts.host,
    port: opts.port,
    leaseMs: opts.leaseMs,
    heartbeatMs: opts.heartbeatMs,
    instance,
    log,
  });
  try {
    await server.start();
  } catch (err) {
    await store.close().catch(() => undefined);
    throw new Error(`GZS (${describeStore(spec)}): ${(err as Error).message}`);
  }
  onShutdown(log, () => server.close());
  return server;
}
