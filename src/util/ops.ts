// /healthz and /metrics answers and the Prometheus registry every long-running part serves.
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
  return answerOps(req.method, req.url, registry, health, (status, type, body) => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

/**
 * `/healthz` and `/metrics` over any HTTP server: `send` writes the answer (node:http above, the
 * gateway's own front in src/router/server.ts). true when the request was one of them.
 */
export function answerOps(
  method: string | undefined,
  url: string | undefined,
  registry: Registry,
  health: () => Health | Promise<Health>,
  send: (status: number, type: string, body: string) => void,
): boolean {
  const path = url?.split('?')[0];
  if (method !== 'GET' || (path !== '/healthz' && path !== '/metrics')) return false;
  if (path === '/healthz') {
    Promise.resolve()
      .then(health)
      .then(
        (h) => send(h.ok ? 200 : 503, 'application/json', JSON.stringify(h)),
        (err) => send(503, 'application/json', JSON.stringify({ ok: false, error: String(err) })),
      );
  } else {
    registry.metrics().then(
      (text) => send(200, registry.contentType, text),
      (err) => send(500, 'text/plain', String(err)),
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
