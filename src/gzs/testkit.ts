/**
 * Start GZS as a real process (`node dist/src/gzs/main.js`) on a free port: for integration tests,
 * benchmarks and drills of any part (APIRouter/SOA tests stop and restart GZS with it). The pid is
 * recorded like every launcher process (EZ_TEST_PID_DIR), so a failed test's leftovers are reaped.
 */
import { type NodePartProcess, startNodePart } from '../launch/index.js';
import { freePort } from '../util/net.js';
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

export interface GzsProcess extends NodePartProcess {
  token: string;
}

export async function startGzsProcess(opts: GzsProcessOptions): Promise<GzsProcess> {
  const token = opts.token ?? DEV_TOKEN;
  const part = await startNodePart({
    name: 'GZS',
    entry: 'src/gzs/main.js',
    args: (port) => {
      const args = ['--port', String(port), '--store', opts.store];
      if (opts.topology) args.push('--topology', opts.topology);
      if (opts.leaseMs) args.push('--lease', String(opts.leaseMs));
      if (opts.heartbeatMs) args.push('--heartbeat', String(opts.heartbeatMs));
      if (opts.instance) args.push('--instance', opts.instance);
      return args;
    },
    port: opts.port,
    logFile: opts.logFile,
    env: { EZ_GZS_TOKEN: token },
    readyTimeoutMs: opts.readyTimeoutMs,
    graceMs: 10_000,
  });
  return Object.assign(part, { token });
}
