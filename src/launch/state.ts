// The cluster's state file (what runs, by pid and start token) and the up/down lock.
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EzError } from '../util/errors.js';

/** What the launcher remembers about one process it started. */
export interface ProcessRecord {
  name: string;
  kind: string;
  /** null for a cluster-wide process */
  zone: string | null;
  host: string;
  /** the address it binds to (absent in state files of before remote hosts: 127.0.0.1) */
  address?: string;
  pid: number;
  /** tells this process apart from a later one that reuses the pid (see Host.isAlive) */
  startToken: string;
  port: number;
  dataDir: string;
  logFile: string;
  /** ISO time of the spawn */
  startedAt: string;
  /** argv as spawned */
  command: string[];
  /** the kind's own parameters (server id, socket, ...) so `down` works without the topology */
  params: Record<string, unknown>;
  /** the kind's bootstrap has completed */
  bootstrapped: boolean;
}

export interface ClusterState {
  version: 1;
  cluster: string;
  topologyFile: string;
  updatedAt: string;
  /** how the last `up` ran paths between sites: through the link server at `url`, or directly */
  links?: { on: boolean; url: string | null };
  processes: Record<string, ProcessRecord>;
}

/** `--state-dir`, else EZCTL_HOME, else `./.ezctl` under the working directory. */
export function resolveStateDir(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(flag || env.EZCTL_HOME || '.ezctl');
}

export const clusterDir = (stateDir: string, cluster: string): string => join(stateDir, cluster);
export const stateFile = (stateDir: string, cluster: string): string =>
  join(clusterDir(stateDir, cluster), 'state.json');

export function emptyState(cluster: string, topologyFile: string): ClusterState {
  return { version: 1, cluster, topologyFile, updatedAt: new Date().toISOString(), processes: {} };
}

/** Read `<stateDir>/<cluster>/state.json`; an empty state when there is none. */
export function readState(stateDir: string, cluster: string, topologyFile = ''): ClusterState {
  const file = stateFile(stateDir, cluster);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyState(cluster, topologyFile);
    throw new EzError('EZ_STATE', `${file}: cannot read state (${(err as NodeJS.ErrnoException).code})`);
  }
  let state: ClusterState;
  try {
    state = JSON.parse(text);
  } catch (err) {
    throw new EzError(
      'EZ_STATE',
      `${file}: not valid JSON (${(err as Error).message}); fix it, or stop its processes by pid and remove it`,
    );
  }
  if (state?.version !== 1 || typeof state.processes !== 'object' || state.processes === null) {
    throw new EzError('EZ_STATE', `${file}: not an ezctl state file (expected version 1 with "processes")`);
  }
  return state;
}

/** Atomic write: a reader sees the old or the new file, never half of one. */
export function writeState(stateDir: string, state: ClusterState): void {
  const file = stateFile(stateDir, state.cluster);
  mkdirSync(clusterDir(stateDir, state.cluster), { recursive: true });
  state.updatedAt = new Date().toISOString();
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, file);
}

/**
 * One `up` or `down` at a time per cluster: an exclusive lock file holding the owner's pid. A lock
 * whose owner is gone is taken over.
 */
export function lockCluster(stateDir: string, cluster: string): () => void {
  const dir = clusterDir(stateDir, cluster);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number.parseInt(readFileSync(file, 'utf8'), 10);
      if (owner && pidExists(owner)) {
        throw new EzError(
          'EZ_BUSY',
          `cluster "${cluster}" is busy: another ezctl (pid ${owner}) is running up/down on ${dir}`,
        );
      }
      rmSync(file, { force: true }); // stale: its owner is gone
    }
  }
  throw new EzError('EZ_BUSY', `cannot lock ${file}`);
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
