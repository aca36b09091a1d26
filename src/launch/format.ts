// How up/status/down read on a terminal: progress lines and tables.
import { table } from '../util/table.js';
import type { ClusterStatus, DownResult, ProcessStatus, ProgressEvent } from './cluster.js';

export function formatDuration(sec: number | null): string {
  if (sec === null) return '-';
  if (sec < 60) return `${sec}s`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m${String(sec % 60).padStart(2, '0')}s`;
  if (sec < 86400)
    return `${Math.floor(sec / 3600)}h${String(Math.floor((sec % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(sec / 86400)}d${String(Math.floor((sec % 86400) / 3600)).padStart(2, '0')}h`;
}

const ms = (v?: number): string =>
  v === undefined ? '' : v < 1000 ? `${v} ms` : `${(v / 1000).toFixed(1)} s`;

/** One progress line (plus the log tail of a failure). */
export function formatProgress(e: ProgressEvent): string {
  const head = `${(e.type === 'failed' ? 'FAILED' : e.type).padEnd(8)}  ${e.name.padEnd(16)}`;
  const parts: string[] = [];
  if (e.pid !== undefined) parts.push(`pid ${e.pid}`);
  if (e.port !== undefined && e.type !== 'stopped' && e.type !== 'stopping') parts.push(`port ${e.port}`);
  if (e.ms !== undefined) parts.push(ms(e.ms));
  if (e.message) parts.push(e.type === 'failed' ? e.message : `(${e.message})`);
  let text = `${head}  ${parts.join('  ')}`.trimEnd();
  if (e.logTail)
    text += `\n${e.logTail
      .split('\n')
      .map((l) => `    | ${l}`)
      .join('\n')}`;
  return text;
}

/** A cluster with parts elsewhere than `local` shows a HOST column (after ZONE). */
const onHosts = (s: ClusterStatus): boolean => s.processes.some((p) => p.host !== 'local');
const withHost = (s: ClusterStatus, cells: string[], host: string, at = 2): string[] =>
  onHosts(s) ? [...cells.slice(0, at), host, ...cells.slice(at)] : cells;

/** ssh's share of this command: handshakes and multiplexed commands. */
export function formatSshUse(s: ClusterStatus): string | null {
  if (!s.ssh) return null;
  const u = s.ssh;
  return `ssh: ${u.hosts} host${u.hosts > 1 ? 's' : ''}, ${u.connects} handshake${u.connects === 1 ? '' : 's'} (${ms(u.connectMs)}), ${u.commands} multiplexed commands`;
}

/** What runs where, after `up`. */
export function formatUpTable(s: ClusterStatus): string {
  if (s.processes.length === 0) return `cluster ${s.cluster}: nothing running`;
  const rows = s.processes.map((p) =>
    withHost(
      s,
      [
        p.name,
        p.zone ?? '-',
        String(p.port),
        String(p.pid),
        p.endpoints.socket ? `${p.logFile}  (socket ${p.endpoints.socket})` : p.logFile,
      ],
      p.host,
    ),
  );
  const ssh = formatSshUse(s);
  return `cluster ${s.cluster} (state: ${s.clusterDir})\n${table(withHost(s, ['PROCESS', 'ZONE', 'PORT', 'PID', 'LOG'], 'HOST'), rows)}${ssh ? `\n${ssh}` : ''}`;
}

export const statusRow = (p: ProcessStatus): string[] => [
  p.name,
  p.kind,
  p.zone ?? '-',
  String(p.pid),
  p.alive ? 'yes' : 'NO',
  p.ready ? 'yes' : 'NO',
  String(p.port),
  formatDuration(p.uptimeSec),
];

export const STATUS_HEADER = ['NAME', 'KIND', 'ZONE', 'PID', 'ALIVE', 'READY', 'PORT', 'UPTIME'];

export function statusSummary(s: ClusterStatus): string {
  const bad = s.processes.filter((p) => !p.alive || !p.ready).length;
  if (s.processes.length === 0)
    return `cluster ${s.cluster} is not running: no processes recorded in ${s.clusterDir} (\`ezctl up\` starts it; check --state-dir / EZCTL_HOME)`;
  if (!s.running)
    return `cluster ${s.cluster} is not running: none of its ${s.processes.length} recorded processes is alive (\`ezctl up\` restarts them)`;
  return bad === 0
    ? `cluster ${s.cluster}: all ${s.processes.length} processes alive and ready`
    : `cluster ${s.cluster}: ${bad} of ${s.processes.length} processes not alive/ready (run \`ezctl up\` to restart them)`;
}

export function formatStatus(s: ClusterStatus): string {
  if (s.processes.length === 0) return statusSummary(s);
  const rows = s.processes.map((p) => withHost(s, statusRow(p), p.host, 3));
  // one line per host that could not be asked
  const errors = [...new Set(s.processes.flatMap((p) => (p.error ? [p.error] : [])))];
  return [table(withHost(s, STATUS_HEADER, 'HOST', 3), rows), ...errors, statusSummary(s)].join('\n');
}

export function formatDown(r: DownResult): string {
  const lines = [
    r.stopped.length === 0
      ? `cluster ${r.cluster}: nothing was running`
      : `cluster ${r.cluster}: stopped ${r.stopped.length} process${r.stopped.length > 1 ? 'es' : ''}`,
  ];
  lines.push(r.purged ? `purged ${r.clusterDir}` : `data kept in ${r.clusterDir} (--purge deletes it)`);
  return lines.join('\n');
}
