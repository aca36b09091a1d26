// What `ezctl hosts check|prepare` and `ezctl logs` do: per remote host of a topology, what it
// lacks and installing it; a part's log from wherever it runs.
import { execa } from 'execa';
import type { Topology } from '../topology/index.js';
import { EzError, UsageError } from '../util/errors.js';
import { plan } from './cluster.js';
import { hostFor } from './host.js';
import { checkHost, type HostCheck, type PrepareEvent, prepareHost, remoteHostsOf } from './remote.js';
import { type ProcessRecord, readState, resolveStateDir } from './state.js';

/** Every instance the topology can ask for (ZooKeeper too when it has deployment.zookeeper), by host. */
function everyInstance(topology: Topology): { host: string; kind: string }[] {
  const withOptional = topology.deployment.zookeeper ? ['zookeeper'] : [];
  return plan(topology, { with: withOptional })
    .flat()
    .flatMap(({ specs }) => specs);
}

export interface HostsReport {
  cluster: string;
  hosts: HostCheck[];
  /** every host has what its parts need */
  ready: boolean;
}

/** `ezctl hosts check`: what each remote host lacks (unreachable hosts throw one line). */
export async function hostsCheck(topology: Topology): Promise<HostsReport> {
  const hosts = remoteHostsOf(topology, everyInstance(topology));
  const checks = await Promise.all(hosts.map(({ host, kinds }) => checkHost(host, kinds)));
  return { cluster: topology.name, hosts: checks, ready: checks.every((c) => c.lacks.length === 0) };
}

/** `ezctl hosts prepare`: install what each remote host lacks, hosts in parallel, progress per step. */
export async function hostsPrepare(
  topology: Topology,
  onEvent: (e: PrepareEvent) => void = () => {},
): Promise<HostsReport> {
  const hosts = remoteHostsOf(topology, everyInstance(topology));
  const checks = await Promise.all(hosts.map(({ host, kinds }) => prepareHost(host, kinds, onEvent)));
  return { cluster: topology.name, hosts: checks, ready: checks.every((c) => c.lacks.length === 0) };
}

export function formatHosts(r: HostsReport): string {
  if (r.hosts.length === 0) return `cluster ${r.cluster}: no remote hosts (every part runs on this machine)`;
  return r.hosts
    .map((c) =>
      c.lacks.length === 0
        ? `${c.host} (${c.target}): ready for ${c.kinds.join(', ')}`
        : `${c.host} (${c.target}): lacks ${c.lacks.map((l) => `${l.what} (${l.detail})`).join(', ')}`,
    )
    .join('\n');
}

export const formatPrepareEvent = (e: PrepareEvent): string =>
  `${e.host}: ${e.step}: ${e.message}${e.ms !== undefined ? ` (${e.ms} ms)` : ''}`;

/** The recorded process a `logs` argument names: `mariadb@ez-bj`, or a kind with `--zone`. */
export function findPart(
  topology: Topology,
  stateDir: string | undefined,
  part: string,
  zone?: string,
): ProcessRecord {
  const state = readState(resolveStateDir(stateDir), topology.name, topology.file);
  const all = Object.values(state.processes);
  const exact = all.find((r) => r.name === part);
  if (exact) return exact;
  const matches = all.filter((r) => r.kind === part && (zone === undefined || r.zone === zone));
  if (matches.length === 1) return matches[0];
  if (all.length === 0)
    throw new EzError(
      'EZ_NOT_RUNNING',
      `cluster ${topology.name} has no recorded processes (is it up? \`ezctl status\`)`,
    );
  if (matches.length > 1)
    throw new UsageError(
      `${part}${zone ? ` in ${zone}` : ''} names ${matches.length} processes: ${matches
        .map((r) => r.name)
        .sort()
        .join(', ')} (give one name, or --zone)`,
    );
  throw new UsageError(
    `no process ${part}${zone ? ` in ${zone}` : ''} in cluster ${topology.name} (recorded: ${all
      .map((r) => r.name)
      .sort()
      .join(', ')})`,
  );
}

export interface PartLog {
  name: string;
  host: string;
  logFile: string;
  lines: string[];
}

/** The last `lines` lines of a part's log, from its host. */
export async function partLog(topology: Topology, rec: ProcessRecord, lines: number): Promise<PartLog> {
  const text = await hostFor(rec.host, topology).tail(rec.logFile, lines);
  return { name: rec.name, host: rec.host, logFile: rec.logFile, lines: text === '' ? [] : text.split('\n') };
}

/** Follow a part's log (tail -F on its host) until `signal` aborts; each line to `onLine`. */
export async function followLog(
  topology: Topology,
  rec: ProcessRecord,
  lines: number,
  onLine: (line: string) => void,
  signal: AbortSignal,
): Promise<void> {
  const [cmd, args] = hostFor(rec.host, topology).argv('tail', ['-n', String(lines), '-F', rec.logFile]);
  const child = execa(cmd, args, { reject: false, cancelSignal: signal, stdin: 'ignore', stderr: 'inherit' });
  child.stdout?.setEncoding('utf8');
  let rest = '';
  child.stdout?.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    for (const p of parts) onLine(p);
  });
  await child;
}
