// Starting one instance of a kind: port check, prepare, spawn, wait ready, bootstrap, or stop it again.
import { EzError } from '../util/errors.js';
import { type Host, type Spawned, sleep } from './host.js';
import type { InstanceSpec, LaunchCommand, ProcessKind } from './kinds/types.js';

/** A process that did not come up: which one, why, and the end of its log. */
export class LaunchError extends EzError {
  readonly instance: string;
  readonly logFile: string;
  readonly logTail: string;
  constructor(spec: InstanceSpec<any>, reason: string, logTail: string, code = 'EZ_START_FAILED') {
    super(code, `${spec.name}: ${reason} (log: ${spec.logFile})`);
    this.name = 'LaunchError';
    this.instance = spec.name;
    this.logFile = spec.logFile;
    this.logTail = logTail;
  }
}

export interface Started extends Spawned {
  command: string[];
  /** ms from prepare (e.g. mariadb-install-db) to ready, bootstrap included */
  readyMs: number;
}

const argv = (c: LaunchCommand): string[] => [c.cmd, ...c.args];

/**
 * Start one instance: refuse a port somebody else holds, prepare (idempotent), spawn detached,
 * hand the pid to `onSpawned` at once (so it is recorded even if what follows fails), wait until
 * ready, bootstrap. A process that dies or never gets ready is stopped and reported with its log.
 */
export async function startInstance(
  kind: ProcessKind,
  spec: InstanceSpec<any>,
  host: Host,
  opts: { readyTimeoutMs?: number; onSpawned?: (s: Spawned, command: string[]) => void | Promise<void> } = {},
): Promise<Started> {
  if ((await host.probeTcp(spec.port, { timeoutMs: 500 })) !== null) {
    throw new LaunchError(
      spec,
      `port ${spec.port}${host.remote ? ` on host ${host.name} (${host.address})` : ''} is already in use by another process (choose another port in the topology, or stop that process)`,
      '',
      'EZ_PORT_IN_USE',
    );
  }
  const t0 = performance.now();
  await kind.prepare(spec, host);
  const cmd = await kind.command(spec, host);
  const spawned = await host.spawnDetached(cmd.cmd, cmd.args, {
    env: cmd.env,
    cwd: cmd.cwd,
    logFile: spec.logFile,
  });
  await opts.onSpawned?.(spawned, argv(cmd));
  try {
    await waitReady(kind, spec, host, spawned, opts.readyTimeoutMs ?? kind.readyTimeoutMs);
    await kind.bootstrap?.(spec, host);
  } catch (err) {
    // leave nothing half-started behind
    await kind.stop(spec, host, spawned.pid, spawned.startToken).catch(() => undefined);
    if (err instanceof LaunchError) throw err;
    throw new LaunchError(
      spec,
      (err as Error).message.replace(`${spec.name}: `, ''),
      await host.tail(spec.logFile, 15),
    );
  }
  return { ...spawned, command: argv(cmd), readyMs: Math.round(performance.now() - t0) };
}

/** Poll `ready()` (every 50 ms here, 200 ms on a remote host); fail early when the process exits. */
export async function waitReady(
  kind: ProcessKind,
  spec: InstanceSpec<any>,
  host: Host,
  proc: Spawned,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // On a remote host every liveness check is an ssh command while the readiness probe is direct
  // TCP (every 200 ms): ask after about 1 s, 2 s, 4 s, then every 4 s, on whole multiples of the
  // gap on the clock, so parts starting side by side on a host ask together (one command, see
  // SshHost.isAlive). A part that dies at once is still named within a second or two.
  let aliveGap = 1000;
  const nextAlive = (): number => Math.ceil((Date.now() + aliveGap) / aliveGap) * aliveGap;
  let aliveAt = host.remote ? nextAlive() : 0;
  for (;;) {
    if (Date.now() >= aliveAt) {
      if (!(await host.isAlive(proc.pid, proc.startToken)))
        throw new LaunchError(
          spec,
          `exited during start (pid ${proc.pid})`,
          await host.tail(spec.logFile, 15),
        );
      if (host.remote) {
        aliveGap = Math.min(aliveGap * 2, 4000);
        aliveAt = nextAlive();
      }
    }
    if (await kind.ready(spec, host).catch(() => false)) return;
    if (Date.now() >= deadline) {
      throw new LaunchError(
        spec,
        `not ready after ${timeoutMs} ms (pid ${proc.pid})`,
        await host.tail(spec.logFile, 15),
        'EZ_NOT_READY',
      );
    }
    await sleep(host.remote ? 200 : 50);
  }
}
