/**
 * One of the project's own Node parts (`node dist/src/…/main.js`) as a real process, outside
 * `ezctl up`: for integration tests, benchmarks and drills (src/gzs/testkit.ts,
 * src/router/testkit.ts). Ready when /healthz answers 200; the pid is recorded like every
 * launcher process (EZ_TEST_PID_DIR), so a failed test's leftovers are reaped.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EzError } from '../util/errors.js';
import { freePort } from '../util/net.js';
import { projectRoot } from '../util/paths.js';
import { hostFor, terminate, waitGone } from './host.js';
import { healthzOk } from './kinds/probe.js';

export interface NodePartProcess {
  readonly url: string;
  readonly port: number;
  /** pid of the current process (changes on restart) */
  readonly pid: number;
  logFile: string;
  /** SIGTERM (in-flight work finishes), resolves once the pid is gone */
  stop(): Promise<void>;
  /** SIGKILL (a crash), resolves once gone */
  kill(): Promise<void>;
  /** start again, same port and arguments (stops first if it still runs) */
  restart(): Promise<void>;
  alive(): Promise<boolean>;
}

export interface NodePartOptions {
  /** for messages: `GZS`, `router`, … */
  name: string;
  /** entry under dist/, e.g. `src/gzs/main.js` */
  entry: string;
  /** the command line for a port (the process must listen there) */
  args: (port: number) => string[];
  /** fixed port; default a free one, drawn again if another process takes it first */
  port?: number;
  logFile: string;
  env?: Record<string, string>;
  readyTimeoutMs?: number;
  /** how long SIGTERM may take before SIGKILL */
  graceMs: number;
}

const host = hostFor('local');

export async function startNodePart(o: NodePartOptions): Promise<NodePartProcess> {
  const main = join(projectRoot(), 'dist', o.entry);
  if (!existsSync(main)) throw new EzError('EZ_NOT_BUILT', `${main} is missing: run \`npx tsc -p .\``);
  let port = o.port ?? (await freePort());
  let pid = 0;
  let startToken = '';

  const launch = async (): Promise<void> => {
    const p = await host.spawnDetached(process.execPath, [main, ...o.args(port)], {
      logFile: o.logFile,
      env: { EZ_LOG_LEVEL: process.env.EZ_LOG_LEVEL ?? 'info', ...o.env },
    });
    pid = p.pid;
    startToken = p.startToken;
    const deadline = Date.now() + (o.readyTimeoutMs ?? 20_000);
    for (;;) {
      if (!(await host.isAlive(pid, startToken)))
        throw new EzError(
          'EZ_START_FAILED',
          `${o.name} exited during start: ${await host.tail(o.logFile, 5)}`,
        );
      if (await healthzOk(host, port)) return;
      if (Date.now() > deadline) {
        await terminate(host, pid, { startToken, graceMs: 2000 });
        throw new EzError(
          'EZ_NOT_READY',
          `${o.name} not ready on port ${port}: ${await host.tail(o.logFile, 5)}`,
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
      if (!lost || o.port !== undefined || attempt >= 3) throw err;
      port = await freePort();
    }
  }

  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    get pid() {
      return pid;
    },
    logFile: o.logFile,
    async stop() {
      await terminate(host, pid, { startToken, graceMs: o.graceMs });
    },
    async kill() {
      await host.signal(pid, 'SIGKILL');
      await waitGone(host, pid, 5000, startToken);
    },
    async restart() {
      if (await host.isAlive(pid, startToken)) await terminate(host, pid, { startToken, graceMs: o.graceMs });
      await launch();
    },
    alive: () => host.isAlive(pid, startToken),
  };
}
