// Where processes run (`Host`): spawn detached, pid checks by start token, signals, probes, files.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import {
  access,
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  writeFile,
} from 'node:fs/promises';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import type { Topology } from '../topology/index.js';
import { EzError } from '../util/errors.js';
import { projectRoot } from '../util/paths.js';
import { SshHost } from './ssh-host.js';

/** Result of a short command run on a host. */
export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  /** written to the command's stdin */
  input?: string;
  /** a file on the control machine streamed to the command's stdin (instead of `input`) */
  inputFile?: string;
  timeoutMs?: number;
}

export interface SpawnOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** stdout and stderr go here (appended) */
  logFile: string;
}

export interface ProbeOptions {
  /** connect here instead of the host's address (e.g. an API kept on 127.0.0.1) */
  address?: string;
  send?: string;
  until?: string;
  timeoutMs?: number;
}

/** A detached process: its pid and a token that tells it apart from a later process reusing the pid. */
export interface Spawned {
  pid: number;
  /** `<boot id>:<start time in clock ticks>` from /proc; '' when the host cannot tell */
  startToken: string;
}

/**
 * Where processes run. Every process kind does everything through this interface and only with
 * host paths, so a remote `SshHost` (ssh + `setsid nohup CMD >LOG 2>&1 & echo $!`, files via ssh
 * commands, probes through the remote loopback) can be added without touching any kind.
 */
export interface Host {
  /** name as in the topology (`local`) */
  readonly name: string;
  /** the OS user processes run as (mariadbd needs `--user=root` when it is root) */
  readonly user: string;
  /** the address its parts bind to and are reached by (`local`: 127.0.0.1) */
  readonly address: string;
  /** reached over ssh (then paths are the host's own, and `node`/`projectRoot` its copies) */
  readonly remote: boolean;
  /** the Node.js binary parts run with on this host */
  readonly node: string;
  /** the project (dist/, node_modules/, fixtures/) on this host */
  readonly projectRoot: string;
  /** `[cmd, args]` that runs `cmd args` on this host from the control machine (for streaming, e.g. `logs --follow`) */
  argv(cmd: string, args: string[]): [string, string[]];
  /** run a short command to completion; never throws for a non-zero exit (see exitCode) */
  run(cmd: string, args: string[], opts?: RunOptions): Promise<RunResult>;
  /** start a long-running process that outlives the caller (the log file's directory is made first); resolves once it was exec'd */
  spawnDetached(cmd: string, args: string[], opts: SpawnOptions): Promise<Spawned>;
  /** true when the pid runs (not a zombie) and, when given, has the same start token */
  isAlive(pid: number, startToken?: string): Promise<boolean>;
  /** isAlive of several processes at once (one round trip on a remote host) */
  isAliveMany(procs: readonly { pid: number; startToken?: string }[]): Promise<boolean[]>;
  /** send a signal; false when the process is already gone */
  signal(pid: number, signal: NodeJS.Signals): Promise<boolean>;
  /**
   * Connect to the host's address (or `opts.address`) at port, send `opts.send` (if any) and return what came back
   * until the reply contains `opts.until`, the peer closes, or `opts.timeoutMs` (default 1000)
   * passes; without `send` it returns '' as soon as the connection is accepted. null when nothing
   * accepts the connection.
   */
  probeTcp(port: number, opts?: ProbeOptions): Promise<string | null>;
  /** the last `lines` lines of a text file ('' when missing) */
  tail(path: string, lines: number): Promise<string>;
  mkdir(path: string): Promise<void>;
  /** atomic: written to a temp file, then renamed; `mode` e.g. 0o600 for a file holding a secret */
  writeFile(path: string, data: string, mode?: number): Promise<void>;
  /** several files into `dir` (made if missing), each atomically, in one round trip on a remote host */
  writeFiles(dir: string, files: Record<string, string>): Promise<void>;
  /** undefined when the file does not exist */
  readFile(path: string): Promise<string | undefined>;
  exists(path: string): Promise<boolean>;
  /** entries of a directory, [] when it does not exist */
  list(path: string): Promise<string[]>;
  /** rm -rf */
  rm(path: string): Promise<void>;
}

/**
 * Linux: `/proc/<pid>/stat` field 22 is the start time since boot; with the boot id it is unique.
 * `zombie`: the process has exited entirely. A killed multi-threaded process (Node.js) shows its
 * leader as Z while its other threads are still exiting and still hold its files and sockets
 * (seen here: Z with 6, 3, 2 threads, then 1): only Z with one thread left (field 20) is gone.
 */
export function parseStartToken(stat: string, bootId: string): { token: string; zombie: boolean } {
  // the command name (field 2) may hold spaces or parentheses: fields resume after the last ')'
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { token: `${bootId.trim()}:${rest[19]}`, zombie: rest[0] === 'Z' && Number(rest[17]) <= 1 };
}

async function procStartToken(pid: number): Promise<{ token: string; zombie: boolean } | undefined> {
  try {
    const [stat, bootId] = await Promise.all([
      readFile(`/proc/${pid}/stat`, 'utf8'),
      readFile('/proc/sys/kernel/random/boot_id', 'utf8'),
    ]);
    return parseStartToken(stat, bootId);
  } catch {
    return undefined;
  }
}

/**
 * Connect to address:port, send `send` (if any), return what came back until the reply contains
 * `until`, the peer closes, or `timeoutMs`; '' at once without `send`; null when nothing accepts.
 * Shared by every Host: the control machine reaches each host's parts by address.
 */
export function probeTcpAt(
  address: string,
  port: number,
  send: string | undefined,
  until: string | undefined,
  timeoutMs: number,
): Promise<string | null> {
  return new Promise((resolve) => {
    let reply = '';
    let connected = false;
    let done = false;
    const socket = connect({ host: address, port });
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(connected ? reply : null);
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      connected = true;
      if (send === undefined) finish();
      else socket.write(send);
    });
    socket.on('data', (chunk: string) => {
      reply += chunk;
      if (until !== undefined && reply.includes(until)) finish();
    });
    socket.on('end', finish);
    socket.on('error', finish);
  });
}

/** Test runs record every pid they start (EZ_TEST_PID_DIR) so a global teardown can reap strays. */
function recordTestPid(pid: number, cmd: string, args: string[], startToken: string): void {
  const dir = process.env.EZ_TEST_PID_DIR;
  if (!dir) return;
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${pid}.json`), JSON.stringify({ pid, cmd, args, startToken }));
  } catch {
    // best effort: the safety net must never break a start
  }
}

export class LocalHost implements Host {
  readonly user = userInfo().username;
  readonly remote = false;
  readonly node = process.execPath;
  readonly projectRoot = projectRoot();

  /** `address`: where this machine's parts bind (127.0.0.1, or an address remote hosts reach) */
  constructor(
    readonly name = 'local',
    readonly address = '127.0.0.1',
  ) {}

  argv(cmd: string, args: string[]): [string, string[]] {
    return [cmd, args];
  }

  async run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    const r = await execa(cmd, args, {
      reject: false,
      env: opts.env,
      ...(opts.inputFile !== undefined ? { inputFile: opts.inputFile } : { input: opts.input }),
      timeout: opts.timeoutMs ?? 60_000,
      stripFinalNewline: true,
    });
    if (r.failed && r.exitCode === undefined) {
      // not started at all (ENOENT) or timed out: say which
      const why = r.timedOut
        ? `timed out after ${opts.timeoutMs ?? 60_000} ms`
        : (r.shortMessage ?? 'failed');
      return { exitCode: 127, stdout: String(r.stdout ?? ''), stderr: why };
    }
    return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  }

  async spawnDetached(cmd: string, args: string[], opts: SpawnOptions): Promise<Spawned> {
    mkdirSync(dirname(opts.logFile), { recursive: true });
    const fd = openSync(opts.logFile, 'a');
    try {
      // node:child_process rather than execa: execa keeps a promise tied to the child, while the
      // process must outlive the CLI (own session via detached, unref'd, output only to the log)
      const child = spawn(cmd, args, {
        detached: true,
        stdio: ['ignore', fd, fd],
        cwd: opts.cwd,
        env: { ...process.env, ...opts.env },
      });
      const outcome = await Promise.race([
        once(child, 'spawn').then(() => undefined),
        once(child, 'error').then(([err]) => err as NodeJS.ErrnoException),
      ]);
      if (outcome) {
        throw new EzError(
          'EZ_SPAWN_FAILED',
          `cannot start ${cmd}: ${outcome.code === 'ENOENT' ? 'command not found (run ./scripts/setup.sh)' : outcome.message}`,
        );
      }
      child.unref();
      const pid = child.pid!;
      const startToken = (await procStartToken(pid))?.token ?? '';
      recordTestPid(pid, cmd, args, startToken);
      return { pid, startToken };
    } finally {
      closeSync(fd);
    }
  }

  async isAlive(pid: number, startToken?: string): Promise<boolean> {
    if (!Number.isInteger(pid) || pid <= 0) return false;
    try {
      process.kill(pid, 0);
    } catch {
      // ESRCH: gone; EPERM: the pid belongs to another user, so it is not a process we started
      return false;
    }
    const info = await procStartToken(pid);
    if (!info) return true; // no /proc: trust kill(0)
    if (info.zombie) return false;
    return !startToken || info.token === startToken;
  }

  isAliveMany(procs: readonly { pid: number; startToken?: string }[]): Promise<boolean[]> {
    return Promise.all(procs.map((p) => this.isAlive(p.pid, p.startToken)));
  }

  async signal(pid: number, signal: NodeJS.Signals): Promise<boolean> {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  probeTcp(port: number, opts: ProbeOptions = {}): Promise<string | null> {
    const { send, until, timeoutMs = 1000 } = opts;
    return probeTcpAt(opts.address ?? this.address, port, send, until, timeoutMs);
  }

  async tail(path: string, lines: number): Promise<string> {
    // read only the end: logs of long-running parts grow large
    let fh: FileHandle | undefined;
    try {
      fh = await open(path, 'r');
      const { size } = await fh.stat();
      const len = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      return buf.toString('utf8').replace(/\n$/, '').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    } finally {
      await fh?.close();
    }
  }

  async mkdir(path: string): Promise<void> {
    await mkdir(path, { recursive: true });
  }

  async writeFile(path: string, data: string, mode?: number): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(tmp, data, mode !== undefined ? { mode } : undefined);
    await rename(tmp, path);
  }

  async writeFiles(dir: string, files: Record<string, string>): Promise<void> {
    for (const [name, data] of Object.entries(files)) await this.writeFile(join(dir, name), data);
  }

  async readFile(path: string): Promise<string | undefined> {
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async exists(path: string): Promise<boolean> {
    try {
      await access(path);
      return true;
    } catch {
      return false;
    }
  }

  async list(path: string): Promise<string[]> {
    try {
      return await readdir(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  async rm(path: string): Promise<void> {
    await rm(path, { recursive: true, force: true });
  }
}

const local = new LocalHost();
const named = new Map<string, Host>();

/**
 * The host a topology entry names: `local`, or one of `topology.hosts` (a remote one through ssh,
 * one multiplexed connection per host for the whole run). Hosts are kept per name and entry.
 */
export function hostFor(name: string, topology?: Pick<Topology, 'hosts'>): Host {
  if (name === 'local') return local;
  const entry = topology?.hosts[name];
  if (!entry)
    throw new EzError(
      'EZ_UNKNOWN_HOST',
      `host "${name}" is not in the topology's hosts${topology ? '' : ' (no topology given)'}`,
    );
  const key = `${name}\n${JSON.stringify(entry)}`;
  let h = named.get(key);
  if (!h) {
    h = entry.ssh ? new SshHost(entry) : new LocalHost(name, entry.address);
    named.set(key, h);
  }
  return h;
}

/** Every remote host made so far (to close their ssh connections, or read their counters). */
export const remoteHosts = (): SshHost[] =>
  [...named.values()].filter((h): h is SshHost => h instanceof SshHost);

/** Wait until `pid` is gone (polling), up to `timeoutMs`. True when it is gone. */
export async function waitGone(
  host: Host,
  pid: number,
  timeoutMs: number,
  startToken?: string,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!(await host.isAlive(pid, startToken))) return true;
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
}

/**
 * Stop a process by pid: an optional graceful step (e.g. `mariadb-admin shutdown`), else SIGTERM;
 * wait up to `graceMs`; then SIGKILL and wait again. Never by process name.
 */
export async function terminate(
  host: Host,
  pid: number,
  opts: { startToken?: string; graceMs?: number; graceful?: () => Promise<boolean> } = {},
): Promise<{ forced: boolean }> {
  const { startToken, graceMs = 15_000 } = opts;
  if (!(await host.isAlive(pid, startToken))) return { forced: false };
  const asked = opts.graceful ? await opts.graceful().catch(() => false) : false;
  if (!asked) await host.signal(pid, 'SIGTERM');
  if (await waitGone(host, pid, graceMs, startToken)) return { forced: false };
  if (asked) {
    // the graceful request was accepted but did not finish: SIGTERM once more before SIGKILL
    await host.signal(pid, 'SIGTERM');
    if (await waitGone(host, pid, 2000, startToken)) return { forced: false };
  }
  await host.signal(pid, 'SIGKILL');
  if (!(await waitGone(host, pid, 5000, startToken))) {
    throw new EzError('EZ_STOP_FAILED', `pid ${pid} survived SIGKILL`);
  }
  return { forced: true };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
