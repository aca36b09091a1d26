/** Start GZS in this process (the `gzs` part's entry, `ezctl gzs serve`, tests, benches): store + server. */
import { join, resolve } from 'node:path';
import type { Topology } from '../topology/index.js';
import { EzError } from '../util/errors.js';
import { createLogger, type Logger } from '../util/log.js';
import { GzsServer } from './server.js';
import { describeStore, FileStore, parseStoreSpec, type StoreSpec, type TableStore } from './store.js';
import { ZkStore } from './zk-store.js';

export interface StartGzsOptions {
  topology: Topology;
  host?: string;
  /** default: deployment.gzs.port; 0 = any free port */
  port?: number;
  /** `file:<path>` or `zk:<hosts>/<path>`; default file:./.ezctl/<cluster>/_cluster/gzs/table.json */
  store?: string;
  token?: string;
  leaseMs?: number;
  heartbeatMs?: number;
  /** how long owner changes and shard locks are kept (default 30 days) */
  ownershipRetentionMs?: number;
  instance?: string;
  log?: Logger;
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

/** Open the store and listen. Resolves once listening; `close()` stops it. */
export async function startGzs(opts: StartGzsOptions): Promise<GzsServer> {
  const { topology } = opts;
  const spec = parseStoreSpec(opts.store ?? defaultStoreSpec(topology));
  const instance = opts.instance ?? `${process.pid}`;
  const log = opts.log ?? createLogger('gzs', { instance, cluster: topology.name });
  const store = openStore(spec, instance, log);
  const server = new GzsServer({
    topology,
    store,
    token: opts.token,
    host: opts.host,
    port: opts.port,
    leaseMs: opts.leaseMs,
    heartbeatMs: opts.heartbeatMs,
    ownershipRetentionMs: opts.ownershipRetentionMs,
    instance,
    log,
  });
  try {
    await server.start();
  } catch (err) {
    await store.close().catch(() => undefined);
    // the refusal of a development token is one line of its own, code kept (nothing was opened)
    if (err instanceof EzError && err.code === 'EZ_DEFAULT_SECRET') throw err;
    throw new Error(`GZS (${describeStore(spec)}): ${(err as Error).message}`);
  }
  return server;
}
