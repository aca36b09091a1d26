/**
 * Launcher kinds for the project's own Node parts (router, soa, orders): one spec shape and one
 * process kind factory (readiness is /healthz, stop is SIGTERM).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Topology } from '../../topology/types.js';
import { EzError } from '../../util/errors.js';
import { projectRoot } from '../../util/paths.js';
import { terminate } from '../host.js';
import { healthzOk } from './probe.js';
import { type InstanceSpec, instanceName, type PlanContext, type ProcessKind } from './types.js';

/** What a traffic part (router, soa, orders) is started with: the topology, GZS and the SDK cache file. */
export interface PartParams {
  topologyFile: string;
  /** GZS base URL (`http://127.0.0.1:<deployment.gzs.port>`) */
  gzs: string;
  /** the SDK's routing-table cache: routing survives a restart while GZS is down */
  cacheFile: string;
}

export const gzsUrl = (topology: Topology): string => `http://127.0.0.1:${topology.deployment.gzs.port}`;

/** One instance of a node part in `dir`, logging to `<kind>.log`. */
export function partSpec(
  kind: string,
  zone: string | undefined,
  host: string,
  port: number,
  dir: string,
  topology: Topology,
): InstanceSpec<PartParams> {
  return {
    name: instanceName(kind, zone),
    kind,
    zone,
    host,
    port,
    dataDir: dir,
    logFile: join(dir, `${kind}.log`),
    params: {
      topologyFile: topology.file,
      gzs: gzsUrl(topology),
      cacheFile: join(dir, 'routing-cache.json'),
    },
  };
}

/**
 * A process kind for a node part of this package (`node dist/src/<entry>`): readiness is its
 * `/healthz` answering 200, stop is SIGTERM (it finishes in-flight requests first). Shared by the
 * router, soa and app kinds.
 */
export function nodePartKind(o: {
  kind: string;
  after: readonly string[];
  description: string;
  /** path under dist/, e.g. `src/router/main.js` */
  entry: string;
  instances(ctx: PlanContext): InstanceSpec<PartParams>[];
}): ProcessKind<PartParams> {
  const mainJs = (): string => join(projectRoot(), 'dist', o.entry);
  return {
    kind: o.kind,
    after: o.after,
    readyTimeoutMs: 20_000,
    description: o.description,
    instances: o.instances,

    async prepare(spec, host) {
      if (!existsSync(mainJs()))
        throw new EzError('EZ_NOT_BUILT', `${spec.name}: ${mainJs()} is missing: run \`npm run build\``);
      await host.mkdir(spec.dataDir);
    },

    async command(spec) {
      const args = [mainJs(), '--topology', spec.params.topologyFile, '--port', String(spec.port)];
      if (spec.zone) args.push('--zone', spec.zone);
      args.push('--gzs', spec.params.gzs, '--cache-file', spec.params.cacheFile);
      return { cmd: process.execPath, args };
    },

    async ready(spec, host) {
      return healthzOk(host, spec.port);
    },

    async stop(_spec, host, pid, startToken) {
      await terminate(host, pid, { startToken, graceMs: 12_000 });
    },

    endpoints(spec) {
      return { url: `http://127.0.0.1:${spec.port}`, gzs: spec.params.gzs };
    },
  };
}
