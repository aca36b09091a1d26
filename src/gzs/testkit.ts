/**
 * Start GZS as a real process (`node dist/src/gzs/main.js`) on a free port: for integration tests,
 * benchmarks and drills of any part (APIRouter/SOA tests stop and restart GZS with it). The pid is
 * recorded like every launcher process (EZ_TEST_PID_DIR), so a failed test's leftovers are reaped.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { hostFor, terminate, waitGone } from '../launch/host.js';
import { EzError } from '../util/errors.js';
import { freePort } from '../util/net.js';
import { projectRoot } from '../util/paths.js';
import { DEV_TOKEN } from './server.js';

export { freePort };

export interface GzsProcessOptions {
  /** `file:<path>` or `zk:<host:port>/<path>` */
  store: string;
  /** stdout/stderr of the process (appended) */
  logFile: string;
  topology?: string;
  /** default: a free port */
  port?: number;
  token?: string;
  leaseMs?: number;
  heartbeatMs?: number;
  instance?: string;
  readyTimeoutMs?: number;
}

export interface GzsProcess {
  url: string;
  port: number;
  pid: number;
  token: string;
  logFile: string;
  /** SIGTERM, resolves once gone; the exit is clean (code 0) when GZS shut down in time */
  stop(): Promise<void>;
  /** SIGKILL (a crash), resolves once gone */
  kill(): Promise<void>;
  /** start again, same port and store (stops first if it still runs) */
  restart(): Promise<void>;
  alive(): Promise<boolean>;
}

const host = hostFor('local');

async function healthy(port: number): Promise<boolean> {
  const reply = await host.probeTcp(port, {
    send: 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n',
    until: '\r\n',
    timeoutMs: 1000,
  });
  return reply?.startsWith('HTTP/1.1 200') ?? false;
}

export async function startGzsProcess(opts: GzsProcessOptions): Promise<GzsProcess> {
  const main = join(projectRoot(), 'dist', 'src', 'gzs', 'main.js');
  if (!existsSync(main)) throw new EzError('EZ_NOT_BUILT', `${main} is missing: run \`npx tsc -p .\``);
  const token = opts.token ?? DEV_TOKEN;
  let port = opts.port ?? (await freePort());
  let pid = 0;
  let startToken = '';

  const launch = async (): Promise<void> => {
    const args = [main, '--port', String(port), '--store', opts.store];
    if (opts.topology) args.push('--topology', opts.topology);
    if (opts.leaseMs) args.push('--lease-ms', String(opts.leaseMs));
    if (opts.heartbeatMs) args.push('--heartbeat-ms', String(opts.heartbeatMs));
    if (opts.instance) args.push('--instance', opts.instance);
    const p = await host.spawnDetached(process.execPath, args, {
      logFile: opts.logFile,
      env: { EZ_GZS_TOKEN: token, EZ_LOG_LEVEL: process.env.EZ_LOG_LEVEL ?? 'info' },
    });
    pid = p.pid;
    startToken = p.startToken;
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 20_000);
    for (;;) {
      if (!(await host.isAlive(pid, startToken))) {
        throw new EzError('EZ_START_FAILED', `GZS exited during start: ${await host.tail(opts.logFile, 5)}`);
      }
      if (await healthy(port)) return;
      if (Date.now() > deadline) {
        await terminate(host, pid, { startToken, graceMs: 2000 });
        throw new EzError(
          'EZ_NOT_READY',
          `GZS not ready on port ${port}: ${await host.tail(opts.logFile, 5)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 30));
    }
  };

  for (let attempt = 1; ; attempt++) {
    try {
      await launch();
      break;
    } catch (err) {
      // another process took the free port meanwhile: draw another (only when the port was ours to pick)
      const lost = /EADDRINUSE/.test((err as Error).message);
      if (!lost || opts.port !== undefined || attempt >= 3) throw err;
      port = await freePort();
    }
  }

  const proc: GzsProcess = {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    get pid() {
      return pid;
    },
    token,
    logFile: opts.logFile,
    async stop() {
      await terminate(host, pid, { startToken, graceMs: 10_000 });
    },
    async kill() {
      await host.signal(pid, 'SIGKILL');
      await waitGone(host, pid, 5000, startToken);
    },
    async restart() {
      if (await host.isAlive(pid, startToken)) await terminate(host, pid, { startToken, graceMs: 10_000 });
      await launch();
    },
    alive: () => host.isAlive(pid, startToken),
  };
  return proc;
}
