/**
 * The one runtime every long-running part's process uses (GZS, APIRouter, SOA Proxy, the order
 * service, DRC replicators, invalidators, the DAL, the link server): flags with env fallbacks,
 * a pino logger, a Prometheus registry, `/healthz` + `/metrics` (served here for parts without an
 * HTTP server of their own), a clean stop on SIGTERM/SIGINT, and exit codes that mean something:
 * 0 stopped cleanly, 1 failed at run time, 2 bad flags or configuration.
 */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { checkZone, loadTopology, type Topology } from '../topology/index.js';
import { errorMessage, UsageError } from '../util/errors.js';
import { createLogger, type Logger } from '../util/log.js';
import { createRegistry, type Health, handleOps } from '../util/ops.js';
import { type FlagSpecs, type FlagValues, flag, parseFlags, usage } from './flags.js';

export interface PartContext<V> {
  flags: V;
  log: Logger;
  registry: Registry;
  /** loaded from --topology (env EZCTL_TOPOLOGY, else the embedded default) */
  topology: Topology;
}

export interface RunningPart {
  /** stop cleanly: in-flight work finishes, connections close (bounded by the runtime) */
  close(): Promise<void>;
  /**
   * A part without an HTTP server of its own: the runtime serves `/healthz` (200 when ok, else 503)
   * and `/metrics` on this address, and answers 404 for anything else.
   */
  ops?: { host: string; port: number; health(): Health | Promise<Health> };
  /** the registry `ops` serves at /metrics when the part made its own (default: the context's) */
  registry?: Registry;
  /** logged with the `ready` line */
  ready?: Record<string, unknown>;
}

export interface PartDefinition<S extends FlagSpecs> {
  /** name in logs, metrics (`part` label) and error lines */
  part: string;
  /** `node dist/src/<entry>` */
  entry: string;
  summary: string;
  flags: S;
  /** extra fields in every log line (e.g. the eZone) */
  logFields?(flags: FlagValues<S>): Record<string, unknown>;
  start(ctx: PartContext<FlagValues<S>>): Promise<RunningPart>;
  /** how long close() may take before the process exits 1 (default 10 s) */
  shutdownTimeoutMs?: number;
}

/** `--topology` for every part: the cluster's topology file. */
export const topologyFlag = flag.file('topology file (YAML); default: the embedded two-zones topology', {
  env: 'EZCTL_TOPOLOGY',
});

/** Exit with one line on stderr: 2 for a usage/configuration error, else 1. Never a stack trace. */
export function failAndExit(part: string, err: unknown): never {
  const code = err instanceof UsageError || (err as { exitCode?: number })?.exitCode === 2 ? 2 : 1;
  const e = err as { code?: string; message?: string };
  process.stderr.write(
    `${part}: ${e.code && e.code !== 'EZ_USAGE' ? `${e.code}: ` : ''}${e.message ?? String(err)}\n`,
  );
  if (process.env.EZCTL_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  process.exit(code);
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Run a part as this process: parse flags (exit 2 on bad ones), start it (exit 1, or 2 for a
 * configuration error, when that fails), serve its ops endpoints if it has none of its own, and stop
 * it once on SIGTERM/SIGINT (a second signal exits at once).
 */
export async function runPart<S extends FlagSpecs>(def: PartDefinition<S>): Promise<void> {
  const specs = { topology: topologyFlag, ...def.flags } as S & { topology: typeof topologyFlag };
  let ctx: PartContext<FlagValues<S>>;
  try {
    const values = parseFlags(def.part, specs, process.argv.slice(2));
    if (values.help) {
      process.stdout.write(
        `${usage(def.part, def.summary, specs).replace(`dist/src/${def.part}/main.js`, `dist/${def.entry}`)}\n`,
      );
      process.exit(0);
    }
    const topology = loadTopology((values as { topology?: string }).topology);
    for (const [name, spec] of Object.entries(specs)) {
      const v = (values as Record<string, unknown>)[name];
      if (spec.zone && v !== undefined) checkZone(topology, `--${name}`, v);
    }
    const log = createLogger(def.part, { cluster: topology.name, ...def.logFields?.(values) });
    ctx = { flags: values, log, registry: createRegistry(def.part), topology };
  } catch (err) {
    failAndExit(def.part, err);
  }
  const { log } = ctx;
  let running: RunningPart;
  let ops: Server | undefined;
  try {
    running = await def.start(ctx);
    if (running.ops) {
      const { host, port, health } = running.ops;
      ops = createServer((req, res) => {
        if (!handleOps(req, res, running.registry ?? ctx.registry, health)) {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end('{"error":{"code":"EZ_NOT_FOUND","message":"not found: GET /healthz or /metrics"}}');
        }
      });
      await listen(ops, host, port).catch((err) => {
        throw new Error(`cannot listen on ${host}:${port}: ${errorMessage(err)}`);
      });
    }
  } catch (err) {
    log.error({ err: errorMessage(err) }, 'start failed');
    log.flush?.();
    failAndExit(def.part, err);
  }
  log.info(
    {
      pid: process.pid,
      ...running.ready,
      ...(running.ops ? { ops: `${running.ops.host}:${running.ops.port}` } : {}),
    },
    'ready',
  );

  const timeoutMs = def.shutdownTimeoutMs ?? 10_000;
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      log.error({ timeoutMs }, 'shutdown timed out');
      log.flush?.();
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    running
      .close()
      .then(() => new Promise<void>((r) => (ops ? ops.close(() => r()) : r())))
      .then(
        () => {
          log.info('stopped');
          log.flush?.();
          process.exit(0);
        },
        (err) => {
          log.error({ err: errorMessage(err) }, 'shutdown failed');
          log.flush?.();
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
