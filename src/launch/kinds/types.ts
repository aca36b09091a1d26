// What a launcher kind is (ProcessKind), what it plans (InstanceSpec) and with what (PlanContext).
import type { Topology } from '../../topology/index.js';
import type { Host } from '../host.js';

/** One process to run: `mariadb@ez-bj`, `redis@ez-sh`, `zookeeper`. Paths are paths on its host. */
export interface InstanceSpec<P = Record<string, unknown>> {
  /** `<kind>@<eZone>`, or `<kind>` for a process that serves the whole cluster */
  name: string;
  kind: string;
  /** the eZone it belongs to; undefined for a cluster-wide process */
  zone?: string;
  /** host name as in the topology (`local`) */
  host: string;
  /** the address it binds to and is reached by (its host's address) */
  address: string;
  port: number;
  /** the instance's own directory on its host */
  dataDir: string;
  /** stdout + stderr of the process */
  logFile: string;
  /** what the kind needs beyond the common fields (MariaDB: server id, database, socket ...) */
  params: P;
}

export interface LaunchCommand {
  cmd: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
}

/** What `instances()` gets: the topology and where an instance's directory lives on its host. */
export interface PlanContext {
  topology: Topology;
  /**
   * `<cluster root>/<eZone or _cluster>/<kind>` on the host that runs it: the state directory's
   * `<cluster>/` on this machine, `<host dir>/clusters/<cluster>/` on a remote host
   */
  dataDir(zone: string | undefined, kind: string): string;
  /** the host a kind of an eZone (or a cluster-wide kind) runs on, and its address */
  hostOf(zone: string | undefined, kind: string): { host: string; address: string };
  /**
   * Do paths between sites go through named links (`ezctl up`, the default) or straight to the
   * service (`--no-links`)? `url`: the link server's API (built-in, or a real Toxiproxy given with
   * `--toxiproxy`, then `external`: no links process is started).
   */
  links: LinkPlan;
  /** the kinds this `up` starts (a part goes through the DAL only when the DALs run) */
  selected: ReadonlySet<string>;
}

export interface LinkPlan {
  on: boolean;
  url: string;
  external: boolean;
}

/**
 * A kind of process `ezctl up` runs. Adding one (gzs, router, soa, drc, dal, ...) is one file in
 * this folder plus one line in `kinds/index.ts`. Everything a kind does goes through `Host`.
 */
export interface ProcessKind<P = any> {
  kind: string;
  /** kinds whose instances must be ready before this kind starts (e.g. `['mariadb']`) */
  after: readonly string[];
  /** started by `up` only when asked for (`ezctl up --with <kind>`) */
  optional?: boolean;
  /** how long `ready()` may take after the process was spawned */
  readyTimeoutMs: number;
  /** one line for `--help` and docs */
  description: string;
  /** the instances the topology asks for (throw a UsageError naming the missing topology entry) */
  instances(ctx: PlanContext): InstanceSpec<P>[];
  /** idempotent set-up before the first start (directories, config files, mariadb-install-db) */
  prepare(spec: InstanceSpec<P>, host: Host): Promise<void>;
  command(spec: InstanceSpec<P>, host: Host): Promise<LaunchCommand>;
  /** answers requests now (a cheap probe, called in a loop) */
  ready(spec: InstanceSpec<P>, host: Host): Promise<boolean>;
  /** idempotent set-up after the first ready (schema, users); runs before the instance counts as ready */
  bootstrap?(spec: InstanceSpec<P>, host: Host): Promise<void>;
  /** graceful stop of `pid`, then SIGKILL after a timeout; resolves once the pid is gone */
  stop(spec: InstanceSpec<P>, host: Host, pid: number, startToken?: string): Promise<void>;
  /** extra endpoints worth showing (e.g. the MariaDB socket) */
  endpoints?(spec: InstanceSpec<P>): Record<string, string>;
}

/** `mariadb@ez-bj` or `zookeeper`. */
export const instanceName = (kind: string, zone?: string): string => (zone ? `${kind}@${zone}` : kind);
