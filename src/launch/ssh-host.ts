// A remote `Host` through OpenSSH: one multiplexed master connection per host (ControlMaster),
// every operation one short command on it; processes start with `setsid nohup … &` and report
// their real pid and start token; secrets travel on stdin, never on a command line.
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import type { HostEntry } from '../topology/index.js';
import { EzError } from '../util/errors.js';
import { shq } from '../util/shell.js';
import {
  type Host,
  type ProbeOptions,
  parseStartToken,
  probeTcpAt,
  type RunOptions,
  type RunResult,
  type Spawned,
  type SpawnOptions,
} from './host.js';

/** Short on purpose: a ControlPath is a unix socket (≤ 104 bytes); `%C` is a 40-hex hash. */
const CONTROL_DIR = `/tmp/ezctl-ssh-${process.getuid?.() ?? 0}`;
/** How long isAlive waits for other questions to share its ssh command. */
const ALIVE_BATCH_MS = 20;
/** How long an idle master stays for the next ezctl command (`ezctl down` closes it at once). */
const CONTROL_PERSIST_S = 60;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `export A='…' B='…'` for the first line of stdin (read and eval'd by the remote shell). */
function envLine(env: Record<string, string>): string {
  const parts = Object.entries(env).map(([k, v]) => {
    if (!ENV_NAME.test(k))
      throw new EzError('EZ_BAD_ENV', `bad environment variable name ${JSON.stringify(k)}`);
    if (/[\n\0]/.test(v)) throw new EzError('EZ_BAD_ENV', `environment variable ${k} holds a newline`);
    return `${k}=${shq(v)}`;
  });
  return parts.length > 0 ? `export ${parts.join(' ')}\n` : ':\n';
}

/** The remote shell reads the environment from stdin's first line: nothing secret on a command line `ps` shows. */
const READ_ENV = 'IFS= read -r __ez_env && eval "$__ez_env" && unset __ez_env || exit 125; ';

/**
 * What the control machine passes to processes it starts remotely: the cluster's secrets and
 * settings (every `EZ_*` variable but the test-run pid registry, which is the control machine's).
 */
export function forwardedEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env))
    if (k.startsWith('EZ_') && k !== 'EZ_TEST_PID_DIR' && v !== undefined) out[k] = v;
  return out;
}

/** One line: why ssh could not reach a host, and what to do. */
function sshFailure(entry: HostEntry, what: string, stderr: string): EzError {
  const ssh = entry.ssh!;
  const line =
    stderr
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('Warning: Permanently added'))
      .pop() ?? 'ssh failed';
  let hint: string;
  let code = 'EZ_HOST_UNREACHABLE';
  if (/Permission denied/i.test(line)) {
    code = 'EZ_HOST_AUTH';
    hint = `the key was refused: add its public key to ~${ssh.user}/.ssh/authorized_keys on the host, or name the right one in hosts.${entry.name}.key`;
  } else if (/Connection refused/i.test(line))
    hint = `nothing accepts ssh on port ${ssh.port}: is sshd running there?`;
  else if (/Could not resolve/i.test(line)) hint = `the name does not resolve: check hosts.${entry.name}.ssh`;
  else if (/Host key verification failed|REMOTE HOST IDENTIFICATION/i.test(line)) {
    code = 'EZ_HOST_AUTH';
    hint = `its host key is not the one in known_hosts${entry.knownHosts ? ` (${entry.knownHosts})` : ''}: check the host, then fix that entry`;
  } else hint = 'the host is unreachable: is it up, and is the address right?';
  return new EzError(
    code,
    `host ${entry.name} (${ssh.user}@${ssh.address}:${ssh.port}): ${what}: ${line} — ${hint}`,
  );
}

/** ssh's own failures (exit 255 with one of these) as opposed to a remote command's exit 255. */
const SSH_ERROR =
  /^(ssh: |.*Permission denied|Host key verification failed|.*Connection (closed|reset|refused|timed out)|kex_exchange_identification|Control socket connect)/m;

export interface SshStats {
  /** master connections opened (a full handshake each) */
  connects: number;
  connectMs: number;
  /** commands run over the master */
  commands: number;
  commandMs: number;
}

export class SshHost implements Host {
  readonly remote = true;
  readonly name: string;
  readonly user: string;
  readonly address: string;
  readonly node: string;
  readonly projectRoot: string;
  readonly stats: SshStats = { connects: 0, connectMs: 0, commands: 0, commandMs: 0 };
  private master?: Promise<void>;

  constructor(readonly entry: HostEntry) {
    if (!entry.ssh) throw new Error(`host ${entry.name} has no ssh address`);
    this.name = entry.name;
    this.user = entry.ssh.user;
    this.address = entry.address;
    // `ezctl hosts prepare` puts the control machine's Node.js and the project here
    this.node = join(entry.dir, 'ezctl', 'node');
    this.projectRoot = join(entry.dir, 'ezctl', 'app');
  }

  /** `user@address:port`, for messages */
  get target(): string {
    const s = this.entry.ssh!;
    return `${s.user}@${s.address}:${s.port}`;
  }

  private options(): string[] {
    const e = this.entry;
    return [
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectTimeout=5',
      '-o',
      'ServerAliveInterval=5',
      '-o',
      'ServerAliveCountMax=3',
      '-o',
      // %C: user, host and port; the key too, so a topology's other key is another connection
      `ControlPath=${CONTROL_DIR}/%C.${createHash('sha1')
        .update(e.key ?? '')
        .digest('hex')
        .slice(0, 8)}`,
      // a given known_hosts is authoritative; otherwise trust a new host on first use (like accept-new)
      '-o',
      `StrictHostKeyChecking=${e.knownHosts ? 'yes' : 'accept-new'}`,
      ...(e.knownHosts ? ['-o', `UserKnownHostsFile=${e.knownHosts}`] : []),
      ...(e.key ? ['-i', e.key, '-o', 'IdentitiesOnly=yes'] : []),
      '-p',
      String(e.ssh!.port),
      '-l',
      e.ssh!.user,
    ];
  }

  /** Open (or find) this host's master connection; every command after it is multiplexed on it. */
  connect(): Promise<void> {
    this.master ??= this.openMaster().catch((err) => {
      this.master = undefined; // a later call may try again
      throw err;
    });
    return this.master;
  }

  private async openMaster(): Promise<void> {
    mkdirSync(CONTROL_DIR, { recursive: true, mode: 0o700 });
    const dest = this.entry.ssh!.address;
    const check = await execa('ssh', ['-O', 'check', ...this.options(), dest], {
      reject: false,
      timeout: 5000,
    });
    if (check.exitCode === 0) return; // a master of an earlier command still runs
    const log = join(CONTROL_DIR, `${this.name}.${process.pid}.log`);
    const t0 = performance.now();
    // -f: into the background once authenticated; its diagnostics go to -E's file, so no pipe of
    // ours stays open in the background master
    const r = await execa(
      'ssh',
      [
        '-M',
        '-N',
        '-f',
        '-o',
        'ControlMaster=yes',
        '-o',
        `ControlPersist=${CONTROL_PERSIST_S}`,
        '-E',
        log,
        ...this.options(),
        dest,
      ],
      { reject: false, stdio: 'ignore', timeout: 20_000 },
    );
    this.stats.connects++;
    this.stats.connectMs += performance.now() - t0;
    let why = '';
    try {
      why = readFileSync(log, 'utf8');
    } catch {}
    rmSync(log, { force: true });
    if (r.exitCode !== 0)
      throw sshFailure(
        this.entry,
        'cannot connect',
        r.timedOut ? 'ssh: connection timed out' : why || `ssh exited ${r.exitCode}`,
      );
  }

  /** Close the master connection (nothing of ours stays on the control machine). */
  async close(): Promise<void> {
    this.master = undefined;
    await execa('ssh', ['-O', 'exit', ...this.options(), this.entry.ssh!.address], {
      reject: false,
      timeout: 5000,
    });
  }

  /** Run a shell script on the host; ssh's own failures throw one line naming host and command. */
  private async sh(
    script: string,
    what: string,
    o: { input?: string; inputFile?: string; timeoutMs?: number; strip?: boolean } = {},
  ): Promise<RunResult> {
    await this.connect();
    const timeout = o.timeoutMs ?? 60_000;
    const t0 = performance.now();
    const r = await execa(
      'ssh',
      [...this.options(), '-o', 'ControlMaster=no', this.entry.ssh!.address, script],
      {
        reject: false,
        ...(o.inputFile !== undefined ? { inputFile: o.inputFile } : { input: o.input ?? '' }),
        timeout,
        stripFinalNewline: o.strip ?? true,
      },
    );
    this.stats.commands++;
    this.stats.commandMs += performance.now() - t0;
    // EZ_SSH_TRACE=<file>: one line per command (host, ms, what), to see where an `up` spends its round trips
    if (process.env.EZ_SSH_TRACE)
      appendFileSync(
        process.env.EZ_SSH_TRACE,
        `${this.name}\t${Math.round(performance.now() - t0)}\t${what.replace(/\s+/g, ' ').slice(0, 200)}\n`,
      );
    const stderr = String(r.stderr ?? '');
    if (r.timedOut)
      return { exitCode: 124, stdout: String(r.stdout ?? ''), stderr: `timed out after ${timeout} ms` };
    if (r.exitCode === 255 && SSH_ERROR.test(stderr)) throw sshFailure(this.entry, `\`${what}\``, stderr);
    return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout ?? ''), stderr };
  }

  argv(cmd: string, args: string[]): [string, string[]] {
    return [
      'ssh',
      [
        ...this.options(),
        '-o',
        'ControlMaster=no',
        this.entry.ssh!.address,
        [cmd, ...args].map(shq).join(' '),
      ],
    ];
  }

  async run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    const line = [cmd, ...args].map(shq).join(' ');
    if (opts.env && Object.keys(opts.env).length > 0) {
      if (opts.inputFile !== undefined) throw new Error('SshHost.run: env with inputFile is not supported');
      return this.sh(`${READ_ENV}exec ${line}`, line, {
        input: envLine(opts.env) + (opts.input ?? ''),
        timeoutMs: opts.timeoutMs,
      });
    }
    return this.sh(`exec ${line}`, line, {
      input: opts.input,
      inputFile: opts.inputFile,
      timeoutMs: opts.timeoutMs,
    });
  }

  async spawnDetached(cmd: string, args: string[], opts: SpawnOptions): Promise<Spawned> {
    const line = [cmd, ...args].map(shq).join(' ');
    const script =
      READ_ENV +
      `command -v ${shq(cmd)} >/dev/null 2>&1 || { echo ezctl-enoent; exit 127; }; ` +
      `mkdir -p ${shq(dirname(opts.logFile))} && cd ${shq(opts.cwd ?? '/')} || exit 1; ` +
      // setsid: its own session (a kill of ssh's session leaves it); nohup: no SIGHUP when ssh goes
      `setsid nohup ${line} >>${shq(opts.logFile)} 2>&1 </dev/null & ` +
      'pid=$!; echo "$pid"; cat /proc/$pid/stat 2>/dev/null || echo; cat /proc/sys/kernel/random/boot_id';
    const r = await this.sh(script, line, { input: envLine({ ...forwardedEnv(), ...opts.env }) });
    if (r.exitCode === 127 && r.stdout.includes('ezctl-enoent'))
      throw new EzError(
        'EZ_SPAWN_FAILED',
        `host ${this.name}: cannot start ${cmd}: command not found (run \`ezctl hosts prepare\`)`,
      );
    const [pidLine, stat, bootId] = r.stdout.split('\n');
    const pid = Number(pidLine);
    if (r.exitCode !== 0 || !Number.isInteger(pid) || pid <= 0)
      throw new EzError(
        'EZ_SPAWN_FAILED',
        `host ${this.name}: cannot start ${cmd}: ${r.stderr.trim() || r.stdout.trim()}`,
      );
    return { pid, startToken: stat && bootId ? parseStartToken(stat, bootId).token : '' };
  }

  /**
   * Liveness questions asked within a few ms of each other (parts starting side by side on this
   * host) share one ssh command: queued here, answered together by isAliveMany.
   */
  private aliveQueue: {
    pid: number;
    startToken?: string;
    resolve: (alive: boolean) => void;
    reject: (e: unknown) => void;
  }[] = [];

  isAlive(pid: number, startToken?: string): Promise<boolean> {
    if (!Number.isInteger(pid) || pid <= 0) return Promise.resolve(false);
    return new Promise((resolve, reject) => {
      this.aliveQueue.push({ pid, startToken, resolve, reject });
      if (this.aliveQueue.length === 1) setTimeout(() => this.flushAlive(), ALIVE_BATCH_MS);
    });
  }

  private flushAlive(): void {
    const batch = this.aliveQueue;
    this.aliveQueue = [];
    this.isAliveMany(batch).then(
      (alive) => {
        for (const [i, q] of batch.entries()) q.resolve(alive[i]);
      },
      (err) => {
        for (const q of batch) q.reject(err);
      },
    );
  }

  async isAliveMany(procs: readonly { pid: number; startToken?: string }[]): Promise<boolean[]> {
    const ok = procs.filter((p) => Number.isInteger(p.pid) && p.pid > 0);
    if (ok.length === 0) return procs.map(() => false);
    // one line per pid: its stat, or '-' when it is gone; the boot id last
    const r = await this.sh(
      `for p in ${ok.map((p) => p.pid).join(' ')}; do cat /proc/$p/stat 2>/dev/null || echo -; done; cat /proc/sys/kernel/random/boot_id`,
      `isAlive ${ok.map((p) => p.pid).join(' ')}`,
      { timeoutMs: 10_000 },
    );
    const lines = r.stdout.split('\n');
    const bootId = lines[ok.length] ?? '';
    const by = new Map<number, boolean>();
    ok.forEach((p, i) => {
      const stat = lines[i] ?? '-';
      if (stat === '-' || stat === '') {
        by.set(p.pid, false);
        return;
      }
      const info = parseStartToken(stat, bootId);
      by.set(p.pid, !info.zombie && (!p.startToken || info.token === p.startToken));
    });
    return procs.map((p) => by.get(p.pid) ?? false);
  }

  async signal(pid: number, signal: NodeJS.Signals): Promise<boolean> {
    const r = await this.sh(`kill -s ${signal.replace(/^SIG/, '')} ${pid}`, `kill -${signal} ${pid}`, {
      timeoutMs: 10_000,
    });
    return r.exitCode === 0;
  }

  probeTcp(port: number, opts: ProbeOptions = {}): Promise<string | null> {
    // from the control machine to the host's address: the parts bind there
    return probeTcpAt(opts.address ?? this.address, port, opts.send, opts.until, opts.timeoutMs ?? 1000);
  }

  async tail(path: string, lines: number): Promise<string> {
    const r = await this.sh(
      `tail -n ${Math.max(1, Math.floor(lines))} -- ${shq(path)} 2>/dev/null; true`,
      `tail ${path}`,
    );
    return r.stdout;
  }

  async mkdir(path: string): Promise<void> {
    await this.check(`mkdir -p -- ${shq(path)}`, `mkdir -p ${path}`);
  }

  async writeFile(path: string, data: string, mode?: number): Promise<void> {
    const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
    const perm = mode !== undefined ? `umask 077 && ` : '';
    const chmod = mode !== undefined ? ` && chmod ${mode.toString(8)} ${shq(tmp)}` : '';
    await this.check(
      `mkdir -p -- ${shq(dirname(path))} && ${perm}cat > ${shq(tmp)}${chmod} && mv -f -- ${shq(tmp)} ${shq(path)}`,
      `write ${path}`,
      { input: data },
    );
  }

  async writeFiles(dir: string, files: Record<string, string>): Promise<void> {
    const names = Object.keys(files);
    for (const n of names)
      if (!/^[A-Za-z0-9_.-]+$/.test(n) || n === '.' || n === '..')
        throw new Error(`writeFiles: ${JSON.stringify(n)} is not a plain file name`);
    // one round trip: a tar of the files on stdin, unpacked beside the target and renamed into
    // place one by one (each rename atomic); tar(1) because Node.js has no archive writer
    const local = mkdtempSync(join(tmpdir(), 'ezctl-files-'));
    try {
      for (const n of names) writeFileSync(join(local, n), files[n]);
      const tarFile = join(local, '.files.tar');
      await execa('tar', ['-C', local, '-cf', tarFile, ...names]);
      const d = shq(dir);
      const inbox = `${d}/.in.$$`;
      await this.check(
        `mkdir -p -- ${d} ${inbox} && tar -C ${inbox} -xf - && for f in ${names.map(shq).join(' ')}; do mv -f -- ${inbox}/"$f" ${d}/"$f" || exit 1; done && rmdir ${inbox}`,
        `write ${names.length} files into ${dir}`,
        { inputFile: tarFile },
      );
    } finally {
      rmSync(local, { recursive: true, force: true });
    }
  }

  async readFile(path: string): Promise<string | undefined> {
    const r = await this.sh(
      `if [ -e ${shq(path)} ]; then cat -- ${shq(path)}; else exit 3; fi`,
      `cat ${path}`,
      {
        strip: false,
      },
    );
    if (r.exitCode === 3) return undefined;
    if (r.exitCode !== 0)
      throw new EzError('EZ_HOST_FILE', `host ${this.name}: cannot read ${path}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  async exists(path: string): Promise<boolean> {
    return (await this.sh(`test -e ${shq(path)}`, `test -e ${path}`)).exitCode === 0;
  }

  async list(path: string): Promise<string[]> {
    const r = await this.sh(`ls -A1 -- ${shq(path)} 2>/dev/null; true`, `ls ${path}`);
    return r.stdout.split('\n').filter(Boolean);
  }

  async rm(path: string): Promise<void> {
    await this.check(`rm -rf -- ${shq(path)}`, `rm -rf ${path}`);
  }

  /** A file operation that must succeed (stdin: `input`, or the local file `inputFile`). */
  private async check(
    script: string,
    what: string,
    stdin: { input?: string; inputFile?: string } = {},
  ): Promise<void> {
    const r = await this.sh(script, what, stdin);
    if (r.exitCode !== 0)
      throw new EzError(
        'EZ_HOST_FILE',
        `host ${this.name}: \`${what}\` failed: ${(r.stderr || r.stdout).trim()}`,
      );
  }
}
