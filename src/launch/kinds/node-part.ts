/**
 * Launcher kinds for the project's own Node parts (router, soa, orders, dal): one spec shape and
 * one process kind factory. Every address a part gets (GZS, peers, upstreams) is planned here from
 * the topology's paths — through the named links when `up` runs on links — and kept in the
 * instance's params, so `status` shows it and a change restarts the part.
 */
import { join } from 'node:path';
import { gzsUrlFrom, type Site } from '../../topology/index.js';
import { EzError } from '../../util/errors.js';
import { type Host, terminate } from '../host.js';
import { topologyOn } from '../stage.js';
import { healthzOk } from './probe.js';
import {
  type InstanceSpec,
  instanceName,
  type LaunchCommand,
  type PlanContext,
  type ProcessKind,
} from './types.js';

/** What a traffic part is started with: the topology, GZS (as its site reaches it), the SDK cache, its own flags. */
export interface PartParams {
  topologyFile: string;
  /** GZS base URL as this part's site reaches it (a link when on links) */
  gzs: string;
  /** the SDK's routing-table cache: routing survives a restart while GZS is down */
  cacheFile: string;
  /** the part's own flags, e.g. `['--peer', 'ez-sh=http://127.0.0.1:27503']` */
  args: string[];
  /** where /healthz answers when not on the part's own port (the DAL: its port speaks MySQL) */
  opsPort?: number;
}

/** One instance of a node part at `site`, in `dir`, logging to `<kind>.log`. */
export function partSpec(
  ctx: PlanContext,
  o: {
    kind: string;
    zone?: string;
    port: number;
    site: Site;
    args?: string[];
    opsPort?: number;
  },
): InstanceSpec<PartParams> {
  const dir = ctx.dataDir(o.zone, o.kind);
  return {
    name: instanceName(o.kind, o.zone),
    kind: o.kind,
    zone: o.zone,
    ...ctx.hostOf(o.zone, o.kind),
    port: o.port,
    dataDir: dir,
    logFile: join(dir, `${o.kind}.log`),
    params: {
      topologyFile: ctx.topology.file,
      gzs: gzsUrlFrom(ctx.topology, ctx.links.on, o.site),
      cacheFile: join(dir, 'routing-cache.json'),
      args: o.args ?? [],
      ...(o.opsPort !== undefined ? { opsPort: o.opsPort } : {}),
    },
  };
}

/**
 * A process kind for a node part of this package (`node dist/src/<entry>`): readiness is its
 * `/healthz` answering 200, stop is SIGTERM (it finishes in-flight requests first).
 */
export function nodePartKind(o: {
  kind: string;
  after: readonly string[];
  description: string;
  /** path under dist/, e.g. `src/router/main.js` */
  entry: string;
  instances(ctx: PlanContext): InstanceSpec<PartParams>[];
}): ProcessKind<PartParams> {
  return {
    kind: o.kind,
    after: o.after,
    readyTimeoutMs: 20_000,
    description: o.description,
    instances: o.instances,

    async prepare(spec, host) {
      // the data dir is the log's: spawnDetached makes it (no ssh round trip of its own)
      await requireBuilt(spec.name, host, o.entry);
    },

    async command(spec, host) {
      return projectPart(host, o.entry, {
        topologyFile: spec.params.topologyFile,
        address: spec.address,
        port: spec.port,
        args: [
          ...(spec.zone ? ['--zone', spec.zone] : []),
          '--gzs',
          spec.params.gzs,
          '--cache-file',
          spec.params.cacheFile,
          ...spec.params.args,
        ],
      });
    },

    async ready(spec, host) {
      return healthzOk(host, spec.params.opsPort ?? spec.port);
    },

    async stop(_spec, host, pid, startToken) {
      await terminate(host, pid, { startToken, graceMs: 12_000 });
    },

    endpoints(spec): Record<string, string> {
      return spec.params.opsPort !== undefined
        ? {
            mysql: `${spec.address}:${spec.port}`,
            ops: `http://${spec.address}:${spec.params.opsPort}`,
            gzs: spec.params.gzs,
          }
        : { url: `http://${spec.address}:${spec.port}`, gzs: spec.params.gzs };
    },
  };
}

/**
 * The command line of one of the project's parts on its host: that host's Node.js and project copy,
 * the topology as the host reads it, the address and port it listens on, then its own flags.
 */
export function projectPart(
  host: Host,
  entry: string,
  o: { topologyFile: string; address: string; port: number; args: string[] },
): LaunchCommand {
  return {
    cmd: host.node,
    args: [
      join(host.projectRoot, 'dist', entry),
      '--topology',
      topologyOn(host, o.topologyFile),
      '--host',
      o.address,
      '--port',
      String(o.port),
      ...o.args,
    ],
  };
}

/** The part's entry exists on its host (built here; copied there by `ezctl hosts prepare`). */
export async function requireBuilt(name: string, host: Host, entry: string): Promise<void> {
  // a remote host's copy was checked by `up`'s preflight (the same build as here): no ssh round trip
  if (host.remote) return;
  const main = join(host.projectRoot, 'dist', entry);
  if (await host.exists(main)) return;
  throw new EzError('EZ_NOT_BUILT', `${name}: ${main} is missing: run \`npm run build\``);
}

/** `http://host:port` of a planned address. */
export const httpOf = (a: { host: string; port: number }): string => `http://${a.host}:${a.port}`;
