import type { IncomingMessage, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Logger } from './log.js';

/** A Prometheus registry with Node's default process metrics, one per long-running part. */
export function createRegistry(part: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ part });
  collectDefaultMetrics({ register: registry });
  return registry;
}

export interface Health {
  ok: boolean;
  [key: string]: unknown;
}

/**
 * Serves `GET /healthz` (200 when ok, else 503, JSON body) and `GET /metrics` (Prometheus text).
 * Returns true when it answered, so a part mounts it in front of its own routes.
 */
export function handleOps(
  req: IncomingMessage,
  res: ServerResponse,
  registry: Registry,
  health: () => Health | Promise<Health>,
): boolean {
  const path = req.url?.split('?')[0];
  if (req.method !== 'GET' || (path !== '/healthz' && path !== '/metrics')) return false;
  const done = (status: number, type: string, body: string): void => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  if (path === '/healthz') {
    Promise.resolve()
      .then(health)
      .then(
        (h) => done(h.ok ? 200 : 503, 'application/json', JSON.stringify(h)),
        (err) => done(503, 'application/json', JSON.stringify({ ok: false, error: String(err) })),
      );
  } else {
    registry.metrics().then(
      (text) => done(200, registry.contentType, text),
      (err) => done(500, 'text/plain', String(err)),
    );
  }
  return true;
}

/**
 * Clean shutdown on SIGTERM/SIGINT: runs `stop` once (bounded by `timeoutMs`), logs, exits 0
 * (1 when stop failed or timed out). A second signal exits at once.
 */
export function onShutdown(log: Logger, stop: () => Promise<void>, timeoutMs = 10_000): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      log.error({ timeoutMs }, 'shutdown timed out');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    stop().then(
      () => {
        log.info('stopped');
        log.flush?.();
        process.exit(0);
      },
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
