// The launcher's up/status/down over process kinds, phase by phase, recorded in the cluster state.
import { join } from 'node:path';
import { applySecretsEnv, ensureClusterSecrets } from '../shared/secrets.js';
import {
  hostAddress,
  LOCAL_HOST,
  leavesLoopback,
  linksApiPort,
  type Topology,
  type ZonePart,
} from '../topology/index.js';
import { EzError, errorMessage, UsageError } from '../util/errors.js';
import { parseBaseUrl } from '../util/parse.js';
import { type Host, hostFor, remoteHosts, terminate } from './host.js';
import { LaunchError, startInstance, waitReady } from './instance.js';
import { KINDS, kindOf, phaseOf, phases, selectKinds } from './kinds/index.js';
import type { InstanceSpec, LinkPlan, PlanContext, ProcessKind } from './kinds/types.js';
import { preflight } from './remote.js';
import {
  type ClusterState,
  clusterDir,
  lockCluster,
  type ProcessRecord,
  readState,
  resolveStateDir,
  writeState,
} from './state.js';

export interface ClusterOptions {
  /** default: EZCTL_HOME, else ./.ezctl */
  stateDir?: string;
}

export interface UpOptions extends ClusterOptions {
  /** paths between sites through named links (default true); false: `--no-links`, straight to each service */
  links?: boolean;
  /** a real Toxiproxy (or another link server) to hold the links instead of the built-in one */
  toxiproxy?: string;
  /** optional kinds to start as well, e.g. ['zookeeper'] */
  with?: readonly string[];
  /** start only these kinds (and the optional ones in `with`) */
  only?: readonly string[];
  /** override every kind's ready timeout (tests) */
  readyTimeoutMs?: number;
}

export interface DownOptions extends ClusterOptions {
  /** delete the cluster's data directory after everything stopped */
  purge?: boolean;
}

export type ProgressType = 'starting' | 'ready' | 'kept' | 'failed' | 'skipped' | 'stopping' | 'stopped';

/** What `up`/`down` report while they work, so a command can print it as it happens. */
export interface ProgressEvent {
  type: ProgressType;
  name: string;
  kind: string;
  zone: string | null;
  port?: number;
  pid?: number;
  /** starting → ready (bootstrap included), stopping → stopped */
  ms?: number;
  /** why it starts (`new`, `was not running`, ...), why it failed, why it was skipped */
  message?: string;
  logFile?: string;
  /** the end of the log of a process that failed */
  logTail?: string;
}

export type OnProgress = (e: ProgressEvent) => void;

export interface ProcessStatus {
  name: string;
  kind: string;
  zone: string | null;
  host: string;
  pid: number;
  alive: boolean;
  ready: boolean;
  port: number;
  /** null when not alive */
  uptimeSec: number | null;
  startedAt: string;
  logFile: string;
  dataDir: string;
  /** extra endpoints (MariaDB: socket) */
  endpoints: Record<string, string>;
  /** why alive/ready could not be told (its host cannot be reached): then both are false */
  error?: string;
}

export interface ClusterStatus {
  cluster: string;
  /** `<stateDir>/<cluster>` */
  clusterDir: string;
  topologyFile: string;
  /** at least one recorded process is alive */
  running: boolean;
  /** processes are recorded and every one is alive and ready (a cluster that is not running is not healthy) */
  healthy: boolean;
  processes: ProcessStatus[];
  /** this command's ssh use, when the cluster has remote hosts: master handshakes and multiplexed commands */
  ssh?: SshUse;
}

export interface SshUse {
  hosts: number;
  /** full handshakes (one master per host) and their total time */
  connects: number;
  connectMs: number;
  /** commands multiplexed over the masters and their total time (remote work included) */
  commands: number;
  commandMs: number;
}

/** What this process spent on ssh so far (undefined when it used none). */
export function sshUse(): SshUse | undefined {
  const hosts = remoteHosts().filter((h) => h.stats.connects + h.stats.commands > 0);
  if (hosts.length === 0) return undefined;
  const sum = (f: (s: (typeof hosts)[number]['stats']) => number): number =>
    Math.round(hosts.reduce((a, h) => a + f(h.stats), 0));
  return {
    hosts: hosts.length,
    connects: sum((s) => s.connects),
    connectMs: sum((s) => s.connectMs),
    commands: sum((s) => s.commands),
    commandMs: sum((s) => s.commandMs),
  };
}

export interface DownResult {
  cluster: string;
  clusterDir: string;
  stopped: { name: string; pid: number; ms: number }[];
  purged: boolean;
}

/** The link plan of an `up`: on links (the built-in server, or `--toxiproxy URL`), or `--no-links`. */
export function linkPlan(topology: Topology, opts: Pick<UpOptions, 'links' | 'toxiproxy'> = {}): LinkPlan {
  const on = opts.links !== false;
  if (!on && opts.toxiproxy) throw new UsageError('--no-links and --toxiproxy exclude each other');
  const url = opts.toxiproxy
    ? parseBaseUrl(opts.toxiproxy, '--toxiproxy')
    : `http://127.0.0.1:${linksApiPort(topology)}`;
  return { on, url, external: opts.toxiproxy !== undefined };
}

/** Where instances' directories go (`<stateDir>/<cluster>/<eZone or _cluster>/<kind>`) and how paths run. */
export function planContext(
  topology: Topology,
  stateDir: string,
  links: LinkPlan = linkPlan(topology),
  kinds: readonly ProcessKind[] = selectKinds(),
): PlanContext {
  const root = clusterDir(stateDir, topology.name);
  const hostOf = (zone: string | undefined, kind: string): { host: string; address: string } => {
    const d = topology.deployment;
    const name = zone
      ? (d.zones[zone].parts[kind as ZonePart] ?? d.zones[zone].host) // e.g. `probe`: the eZone's host
      : ((
          {
            gzs: d.gzs.host,
            router: d.router.host,
            links: d.links?.host,
            zookeeper: d.zookeeper?.host,
          } as Record<string, string | undefined>
        )[kind] ?? LOCAL_HOST);
    return { host: name, address: hostAddress(topology, name) };
  };
  // `_cluster` cannot clash with an eZone id (those start with a letter)
  return {
    topology,
    hostOf,
    dataDir: (zone, kind) => {
      const entry = topology.hosts[hostOf(zone, kind).host];
      const base = entry?.ssh ? join(entry.dir, 'clusters', topology.name) : root;
      return join(base, zone ?? '_cluster', kind);
    },
    links,
    selected: new Set(kinds.map((k) => k.kind)),
  };
}

/** The instances `up` would start, in start order (phase by phase). */
export function plan(
  topology: Topology,
  opts: UpOptions = {},
): { kind: ProcessKind; specs: InstanceSpec[] }[][] {
  const kinds = selectKinds(opts.with, opts.only);
  const ctx = planContext(topology, resolveStateDir(opts.stateDir), linkPlan(topology, opts), kinds);
  return phases(kinds).map((phase) => phase.map((kind) => ({ kind, specs: kind.instances(ctx) })));
}

const specOf = (r: ProcessRecord): InstanceSpec => ({
  name: r.name,
  kind: r.kind,
  zone: r.zone ?? undefined,
  host: r.host,
  address: r.address ?? '127.0.0.1',
  port: r.port,
  dataDir: r.dataDir,
  logFile: r.logFile,
  params: r.params,
});

const base = (spec: InstanceSpec): Pick<ProgressEvent, 'name' | 'kind' | 'zone' | 'port'> => ({
  name: spec.name,
  kind: spec.kind,
  zone: spec.zone ?? null,
  port: spec.port,
});

/**
 * Bring the cluster up. Idempotent: a recorded process that is alive and ready is kept; a dead
 * one is started again on its data; one that runs with another port or directory than the
 * topology now says is restarted. Kinds start phase by phase (a kind after the kinds it needs),
 * the instances of one phase in parallel. Failures are reported (with the log's tail) and the
 * kinds that need a failed kind are skipped; then an EzError names what failed.
 */
export async function up(
  topology: Topology,
  opts: UpOptions = {},
  onProgress: OnProgress = () => {},
): Promise<ClusterStatus> {
  const stateDir = resolveStateDir(opts.stateDir);
  const links = linkPlan(topology, opts);
  const steps = plan(topology, opts); // validates --with and the topology before anything starts
  if (leavesLoopback(topology)) {
    // parts off loopback never run on the well-known development secrets: the cluster's own, made once
    applySecretsEnv(ensureClusterSecrets(clusterDir(stateDir, topology.name)));
  }
  // every remote host reachable and ready (packages, Node.js, project), the topology staged there,
  // before anything starts: a failure here leaves nothing half-started
  await preflight(
    topology,
    steps.flat().flatMap(({ specs }) => specs),
  );
  const unlock = lockCluster(stateDir, topology.name);
  const failed: string[] = [];
  /** the stable code of each failure (EZ_PORT_IN_USE, EZ_START_FAILED, …) */
  const failureCodes = new Map<string, string>();
  /** the one-line reason of each failure, without the log path */
  const failureMessages = new Map<string, string>();
  const failedKinds = new Set<string>();
  try {
    const state = readState(stateDir, topology.name, topology.file);
    state.topologyFile = topology.file;
    const save = (): void => writeState(stateDir, state);

    const ensure = async (kind: ProcessKind, spec: InstanceSpec): Promise<void> => {
      const blocker = kind.after.find((k) => failedKinds.has(k));
      if (blocker) {
        failedKinds.add(kind.kind);
        onProgress({ type: 'skipped', ...base(spec), message: `${blocker} failed` });
        return;
      }
      const host = hostFor(spec.host, topology);
      try {
        let reason = 'new';
        const rec = state.processes[spec.name];
        if (rec) {
          reason = await reuse(kind, spec, host, rec, state, save, onProgress);
          if (reason === 'kept') return;
        }
        onProgress({ type: 'starting', ...base(spec), message: reason });
        const started = await startInstance(kind, spec, host, {
          readyTimeoutMs: opts.readyTimeoutMs,
          onSpawned: (s, command) => {
            state.processes[spec.name] = {
              ...base(spec),
              port: spec.port,
              host: spec.host,
              address: spec.address,
              pid: s.pid,
              startToken: s.startToken,
              dataDir: spec.dataDir,
              logFile: spec.logFile,
              startedAt: new Date().toISOString(),
              command,
              params: spec.params,
              bootstrapped: false,
            };
            save();
          },
        });
        state.processes[spec.name].bootstrapped = true;
        save();
        onProgress({ type: 'ready', ...base(spec), pid: started.pid, ms: started.readyMs });
      } catch (err) {
        const r = state.processes[spec.name];
        if (r && !(await host.isAlive(r.pid, r.startToken))) {
          delete state.processes[spec.name];
          save();
        }
        failed.push(spec.name);
        failureCodes.set(spec.name, (err as { code?: string }).code ?? 'EZ_START_FAILED');
        failureMessages.set(
          spec.name,
          withoutPrefix(errorMessage(err), `${spec.name}: `).replace(/ \(log: [^)]*\)$/, ''),
        );
        failedKinds.add(kind.kind);
        onProgress({
          type: 'failed',
          ...base(spec),
          message: withoutPrefix(errorMessage(err), `${spec.name}: `),
          logFile: spec.logFile,
          logTail: err instanceof LaunchError ? err.logTail : undefined,
        });
      }
    };

    state.links = { on: links.on, url: links.on ? links.url : null };
    save();
    if (links.on && links.external) {
      // a real Toxiproxy holds the links: create them before any part connects through them
      const t0 = performance.now();
      onProgress({ type: 'starting', name: 'links', kind: 'links', zone: null, message: `on ${links.url}` });
      try {
        // loaded here only: the link client (toxiproxy-node-client, axios) is heavy for status/down
        const { createLinks } = await import('../links/index.js');
        await createLinks(topology, links.url);
        onProgress({
          type: 'ready',
          name: 'links',
          kind: 'links',
          zone: null,
          ms: Math.round(performance.now() - t0),
        });
      } catch (err) {
        failed.push('links');
        failureCodes.set('links', (err as { code?: string }).code ?? 'EZ_LINKS_UNREACHABLE');
        failedKinds.add('links');
        onProgress({ type: 'failed', name: 'links', kind: 'links', zone: null, message: errorMessage(err) });
      }
    }
    for (const phase of steps) {
      await Promise.all(phase.flatMap(({ kind, specs }) => specs.map((spec) => ensure(kind, spec))));
    }
  } finally {
    unlock();
  }
  if (failed.length > 0) {
    // one cause (e.g. every failure a port in use) keeps its own code; several causes are EZ_UP_FAILED
    const codes = new Set(failed.map((n) => failureCodes.get(n) ?? 'EZ_START_FAILED'));
    // the first failure's own words (which host, which port, what to do) end the one line
    const first = failureMessages.get(failed[0]);
    throw new EzError(
      codes.size === 1 ? [...codes][0] : 'EZ_UP_FAILED',
      `${failed.length} process${failed.length > 1 ? 'es' : ''} failed to start: ${failed.map((n) => `${n} (${failureCodes.get(n) ?? 'EZ_START_FAILED'})`).join(', ')} ` +
        `(${first ? `${failed[0]}: ${first}; ` : ''}see the log tails above; \`ezctl status\` shows what runs)`,
    );
  }
  return status(topology, opts);
}

const withoutPrefix = (text: string, prefix: string): string =>
  text.startsWith(prefix) ? text.slice(prefix.length) : text;

/** Decide about a recorded process: 'kept', or the reason it must be started (again). */
async function reuse(
  kind: ProcessKind,
  spec: InstanceSpec,
  host: Host,
  rec: ProcessRecord,
  state: ClusterState,
  save: () => void,
  onProgress: OnProgress,
): Promise<string> {
  const alive = await host.isAlive(rec.pid, rec.startToken);
  if (!alive) {
    delete state.processes[spec.name];
    save();
    return `was not running (pid ${rec.pid} gone)`;
  }
  let reason: string;
  if (
    rec.port !== spec.port ||
    rec.dataDir !== spec.dataDir ||
    rec.host !== spec.host ||
    (rec.address ?? '127.0.0.1') !== spec.address
  ) {
    reason = `restart: topology changed (was port ${rec.port} in ${rec.dataDir})`;
  } else if (JSON.stringify(rec.params) !== JSON.stringify(spec.params)) {
    // e.g. `up --no-links` after `up`: its peers and sources are other addresses now
    reason = 'restart: configuration changed (addresses, links or parameters)';
  } else {
    try {
      await waitReady(kind, spec, host, rec, kind.readyTimeoutMs);
      if (!rec.bootstrapped) {
        await kind.bootstrap?.(spec, host);
        rec.bootstrapped = true;
        save();
      }
      onProgress({ type: 'kept', ...base(spec), pid: rec.pid, message: 'already running' });
      return 'kept';
    } catch (err) {
      reason = `restart: pid ${rec.pid} was not ready (${errorMessage(err)})`;
    }
  }
  const t0 = performance.now();
  onProgress({ type: 'stopping', ...base(spec), pid: rec.pid, message: reason });
  await kind.stop(specOf(rec), host, rec.pid, rec.startToken);
  onProgress({ type: 'stopped', ...base(spec), pid: rec.pid, ms: Math.round(performance.now() - t0) });
  delete state.processes[spec.name];
  save();
  return reason;
}

/** Rank for display and ordering: phase, then eZone order in the topology, then name. */
function sortRecords(topology: Topology, records: ProcessRecord[]): ProcessRecord[] {
  const phase = phaseOf(KINDS);
  const zoneRank = new Map(topology.zones.map((z, i) => [z.id, i]));
  const kindRank = new Map(KINDS.map((k, i) => [k.kind, i]));
  const key = (r: ProcessRecord): number[] => [
    phase.get(r.kind) ?? 1e6,
    kindRank.get(r.kind) ?? 1e6,
    r.zone === null ? -1 : (zoneRank.get(r.zone) ?? 1e6),
  ];
  return [...records].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] - kb[i];
    return a.name.localeCompare(b.name);
  });
}

/** Every recorded process: alive (pid runs, same start token), ready (the kind's probe), uptime. */
export async function status(topology: Topology, opts: ClusterOptions = {}): Promise<ClusterStatus> {
  const stateDir = resolveStateDir(opts.stateDir);
  const state = readState(stateDir, topology.name, topology.file);
  const records = sortRecords(topology, Object.values(state.processes));
  // liveness per host in one go (one ssh round trip per remote host); an unreachable host is
  // reported per process (one line naming it), not a failed status
  const byHost = new Map<string, ProcessRecord[]>();
  for (const r of records) byHost.set(r.host, [...(byHost.get(r.host) ?? []), r]);
  const liveness = new Map<string, boolean | string>();
  await Promise.all(
    [...byHost].map(async ([name, rs]) => {
      try {
        const alive = await hostFor(name, topology).isAliveMany(rs);
        rs.forEach((r, i) => {
          liveness.set(r.name, alive[i]);
        });
      } catch (err) {
        for (const r of rs) liveness.set(r.name, errorMessage(err));
      }
    }),
  );
  const processes = await Promise.all(
    records.map(async (r): Promise<ProcessStatus> => {
      const host = hostFor(r.host, topology);
      const kind = kindOf(r.kind);
      const spec = specOf(r);
      const l = liveness.get(r.name);
      const error = typeof l === 'string' ? l : undefined;
      const alive = l === true;
      const ready = alive && kind !== undefined && (await kind.ready(spec, host).catch(() => false));
      const started = Date.parse(r.startedAt);
      return {
        name: r.name,
        kind: r.kind,
        zone: r.zone,
        host: r.host,
        pid: r.pid,
        alive,
        ready,
        port: r.port,
        uptimeSec: alive ? Math.max(0, Math.round((Date.now() - started) / 1000)) : null,
        startedAt: r.startedAt,
        logFile: r.logFile,
        dataDir: r.dataDir,
        endpoints: kind?.endpoints?.(spec) ?? {},
        ...(error ? { error } : {}),
      };
    }),
  );
  return {
    cluster: topology.name,
    clusterDir: clusterDir(stateDir, topology.name),
    topologyFile: state.topologyFile || topology.file,
    running: processes.some((p) => p.alive),
    healthy: processes.length > 0 && processes.every((p) => p.alive && p.ready),
    processes,
    ...(sshUse() ? { ssh: sshUse() } : {}),
  };
}

/**
 * Stop everything recorded, by pid, in reverse start order (the instances of one phase in
 * parallel), waiting for each pid to be gone; `purge` then deletes the cluster's directory.
 */
export async function down(
  topology: Topology,
  opts: DownOptions = {},
  onProgress: OnProgress = () => {},
): Promise<DownResult> {
  const stateDir = resolveStateDir(opts.stateDir);
  const dir = clusterDir(stateDir, topology.name);
  const unlock = lockCluster(stateDir, topology.name);
  const stopped: DownResult['stopped'] = [];
  const errors: string[] = [];
  let purged = false;
  try {
    const state = readState(stateDir, topology.name, topology.file);
    const phase = phaseOf(KINDS);
    // kinds this build does not know (a newer state file) stop first
    const rank = (r: ProcessRecord): number => phase.get(r.kind) ?? Number.MAX_SAFE_INTEGER;
    const groups = new Map<number, ProcessRecord[]>();
    for (const r of Object.values(state.processes)) groups.set(rank(r), [...(groups.get(rank(r)) ?? []), r]);
    for (const p of [...groups.keys()].sort((a, b) => b - a)) {
      await Promise.all(
        groups.get(p)!.map(async (r) => {
          const spec = specOf(r);
          const t0 = performance.now();
          onProgress({ type: 'stopping', ...base(spec), pid: r.pid });
          try {
            const host = hostFor(r.host, topology);
            const kind = kindOf(r.kind);
            if (kind) await kind.stop(spec, host, r.pid, r.startToken);
            else await terminate(host, r.pid, { startToken: r.startToken });
            const ms = Math.round(performance.now() - t0);
            delete state.processes[r.name];
            writeState(stateDir, state);
            stopped.push({ name: r.name, pid: r.pid, ms });
            onProgress({ type: 'stopped', ...base(spec), pid: r.pid, ms });
          } catch (err) {
            errors.push(`${r.name} (pid ${r.pid}): ${errorMessage(err)}`);
            onProgress({ type: 'failed', ...base(spec), pid: r.pid, message: errorMessage(err) });
          }
        }),
      );
    }
    if (errors.length > 0) {
      throw new EzError(
        'EZ_DOWN_FAILED',
        `could not stop ${errors.join('; ')}${opts.purge ? ' (nothing purged)' : ''}`,
      );
    }
    if (opts.purge) {
      // every instance directory lives under the cluster directory on its host
      for (const h of Object.values(topology.hosts))
        if (h.ssh) await hostFor(h.name, topology).rm(join(h.dir, 'clusters', topology.name));
      await hostFor('local').rm(dir);
      purged = true;
    }
  } finally {
    if (!purged) unlock();
    // nothing of ours stays on the control machine either: close the ssh masters
    await Promise.all(remoteHosts().map((h) => h.close()));
  }
  return { cluster: topology.name, clusterDir: dir, stopped, purged };
}
