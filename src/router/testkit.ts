/**
 * Start APIRouter, a SOA Proxy or an order service as a real process (`node dist/src/…/main.js`)
 * for integration tests, benchmarks and drills, the way `ezctl up` does. The pid is recorded like
 * every launcher process (EZ_TEST_PID_DIR), so a failed test's leftovers are reaped.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { hostFor, terminate, waitGone } from '../launch/host.js';
import { EzError } from '../util/errors.js';
import { projectRoot } from '../util/paths.js';

export const PART_ENTRIES = {
  router: 'src/router/main.js',
  soa: 'src/soa/main.js',
  app: 'src/orders/main.js',
} as const;
export type PartName = keyof typeof PART_ENTRIES;

export interface PartProcess {
  part: PartName;
  url: string;
  port: number;
  pid: number;
  logFile: string;
  /** SIGTERM (in-flight requests finish), resolves once the pid is gone */
  stop(): Promise<void>;
  /** SIGKILL, resolves once gone */
  kill(): Promise<void>;
  /** start again with the same arguments (stops first if it still runs) */
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

/** `args` must include `--port N` (the process listens there; readiness is its /healthz). */
export async function startPartProcess(o: {
  part: PartName;
  args: string[];
  logFile: string;
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}): Promise<PartProcess> {
  const main = join(projectRoot(), 'dist', PART_ENTRIES[o.part]);
  if (!existsSync(main)) throw new EzError('EZ_NOT_BUILT', `${main} is missing: run \`npx tsc -p .\``);
  const portAt = o.args.indexOf('--port');
  const port = Number(o.args[portAt + 1]);
  if (portAt < 0 || !Number.isInteger(port) || port <= 0)
    throw new EzError('EZ_USAGE', `startPartProcess(${o.part}): args need --port N`, 2);
  let pid = 0;
  let startToken = '';
  const launch = async (): Promise<void> => {
    const p = await host.spawnDetached(process.execPath, [main, ...o.args], {
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
          `${o.part} exited during start: ${await host.tail(o.logFile, 5)}`,
        );
      if (await healthy(port)) return;
      if (Date.now() > deadline) {
        await terminate(host, pid, { startToken, graceMs: 2000 });
        throw new EzError(
          'EZ_NOT_READY',
          `${o.part} not ready on port ${port}: ${await host.tail(o.logFile, 5)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 30));
    }
  };
  await launch();
  return {
    part: o.part,
    url: `http://127.0.0.1:${port}`,
    port,
    get pid() {
      return pid;
    },
    logFile: o.logFile,
    async stop() {
      await terminate(host, pid, { startToken, graceMs: 12_000 });
    },
    async kill() {
      await host.signal(pid, 'SIGKILL');
      await waitGone(host, pid, 5000, startToken);
    },
    async restart() {
      if (await host.isAlive(pid, startToken)) await terminate(host, pid, { startToken, graceMs: 12_000 });
      await launch();
    },
    alive: () => host.isAlive(pid, startToken),
  };
}
