/**
 * Start APIRouter, a SOA Proxy or an order service as a real process (`node dist/src/…/main.js`)
 * for integration tests, benchmarks and drills, the way `ezctl up` does. The pid is recorded like
 * every launcher process (EZ_TEST_PID_DIR), so a failed test's leftovers are reaped.
 */
import { type NodePartProcess, startNodePart } from '../launch/index.js';
import { EzError } from '../util/errors.js';

export const PART_ENTRIES = {
  router: 'src/router/main.js',
  soa: 'src/soa/main.js',
  orders: 'src/orders/main.js',
} as const;
export type PartName = keyof typeof PART_ENTRIES;

export interface PartProcess extends NodePartProcess {
  part: PartName;
}

/** `args` must include `--port N` (the process listens there; readiness is its /healthz). */
export async function startPartProcess(o: {
  part: PartName;
  args: string[];
  logFile: string;
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}): Promise<PartProcess> {
  const portAt = o.args.indexOf('--port');
  const port = Number(o.args[portAt + 1]);
  if (portAt < 0 || !Number.isInteger(port) || port <= 0)
    throw new EzError('EZ_USAGE', `startPartProcess(${o.part}): args need --port N`, 2);
  const part = await startNodePart({
    name: o.part,
    entry: PART_ENTRIES[o.part],
    args: () => o.args,
    port,
    logFile: o.logFile,
    env: o.env,
    readyTimeoutMs: o.readyTimeoutMs,
    graceMs: 12_000,
  });
  return Object.assign(part, { part: o.part });
}
