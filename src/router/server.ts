import type { Server } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { RoutingSource } from '../sdk/index.js';
import { createLogger } from '../util/log.js';
import { answerOps, createRegistry, type Health } from '../util/ops.js';
import { AccessLog, type AccessLogOptions, DEFAULT_ACCESS_LOG } from './access-log.js';
import { DEFAULT_FRONT, type FrontRequest, FrontServer } from './front.js';
import {
  DEFAULT_LOCK_WAIT_MS,
  DEFAULT_REPLAY_LIMIT,
  Gateway,
  type GatewayOptions,
  type Target,
} from './gateway.js';
import { H_ZONE } from './headers.js';
import { GatewayMetrics } from './metrics.js';
import { DEFAULT_POOL, type PoolOptions, Upstream, UpstreamGroup } from './upstream.js';

/** Options every gateway process shares (APIRouter, SOA Proxy). */
export interface GatewayServerOptions {
  source: RoutingSource;
  /** listen address; default 127.0.0.1 and port 0 (any free port) */
  host?: string;
  port?: number;
  lockWaitMs?: number;
  replayLimitBytes?: number;
  pool?: Partial<PoolOptions>;
  accessLog?: AccessLogOptions;
  log?: Logger;
  /** the part's Prometheus registry (shared with the SDK's ez_sdk_* metrics); default: a new one */
  registry?: Registry;
}

export interface GatewayServer {
  server: Server;
  /** `http://host:port` it listens on */
  url: string;
  port: number;
  gateway: Gateway;
  metrics: GatewayMetrics;
  registry: Registry;
  /** stop accepting, finish in-flight requests (up to `timeoutMs`), close upstream pools */
  close(timeoutMs?: number): Promise<void>;
}

export interface PartSetup {
  /** `router` / `soa`: log part name and metrics prefix (`ez_router`, `ez_soa`) */
  part: string;
  /** extra fields in every log line (e.g. the SOA Proxy's eZone) */
  fields?: Record<string, unknown>;
  soaZone?: string;
  /** builds the part's targets from the shared pieces; returns the gateway's target function */
  targets(make: TargetMaker): GatewayOptions['target'];
  health(): Record<string, unknown>;
  /** started with the server (with its registry and logger); the returned function runs at close */
  attach?(registry: Registry, log: Logger): () => void;
}

/** What a part gets to build its targets: pools shared per origin, stats per (eZone, route). */
export interface TargetMaker {
  target(zone: string, route: string, origins: string[], headers?: string[]): Target;
}

/** Create the HTTP server of a gateway part: /healthz and /metrics first, then every request through the Gateway. */
export async function startGatewayServer(
  opts: GatewayServerOptions,
  setup: PartSetup,
): Promise<GatewayServer> {
  const log = opts.log ?? createLogger(setup.part, setup.fields);
  const registry = opts.registry ?? createRegistry(setup.part);
  const metrics = new GatewayMetrics(registry, `ez_${setup.part}`, opts.source);
  const accessLog = new AccessLog(setup.part, opts.accessLog ?? DEFAULT_ACCESS_LOG, setup.fields);
  const poolOpts: PoolOptions = { ...DEFAULT_POOL, ...opts.pool };
  const upstreams = new Map<string, Upstream>();
  const maker: TargetMaker = {
    target(zone, route, origins, headers = []) {
      const instances = origins.map((o) => {
        let u = upstreams.get(o);
        if (!u) {
          u = new Upstream(o, poolOpts);
          upstreams.set(o, u);
        }
        return u;
      });
      const group = new UpstreamGroup(`${route} ${zone}`, instances);
      let headerLines = '';
      for (let i = 0; i < headers.length; i += 2) headerLines += `${headers[i]}: ${headers[i + 1]}\r\n`;
      return {
        zone,
        route,
        group,
        stats: metrics.stats(zone, route),
        headerLines,
        zoneLine: `${H_ZONE}: ${zone}\r\n`,
      };
    },
  };
  const gateway = new Gateway({
    part: setup.part,
    source: opts.source,
    metrics,
    accessLog,
    log,
    lockWaitMs: opts.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS,
    replayLimitBytes: opts.replayLimitBytes ?? DEFAULT_REPLAY_LIMIT,
    soaZone: setup.soaZone,
    target: setup.targets(maker),
  });
  const health = (): Health => ({
    ok: true,
    part: setup.part,
    epoch: opts.source.epoch,
    staleMs: opts.source.staleMs(),
    inFlight: metrics.inFlightCount,
    ...setup.health(),
  });

  const front = new FrontServer(DEFAULT_FRONT, (req) => {
    const url = req.url;
    // only /healthz and /metrics are the gateway's own; every other path belongs to the services
    if ((url.startsWith('/healthz') || url.startsWith('/metrics')) && serveOps(req, registry, health)) return;
    gateway.handle(req);
  });
  const detach = setup.attach?.(registry, log);
  const addr = await front.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
  const url = `http://${addr.address}:${addr.port}`;

  let closed: Promise<void> | undefined;
  return {
    server: front.server,
    url,
    port: addr.port,
    gateway,
    metrics,
    registry,
    close(timeoutMs = 8000) {
      closed ??= (async () => {
        detach?.();
        front.close(); // stop accepting; idle keep-alive connections close now
        const drained = await gateway.drain(timeoutMs);
        if (!drained) log.warn({ inFlight: metrics.inFlightCount }, 'in-flight requests cut at shutdown');
        front.closeAll();
        await Promise.all([...upstreams.values()].map((u) => u.close()));
        accessLog.flush();
      })();
      return closed;
    },
  };
}

/**
 * `GET /healthz` (200 when ok, else 503, JSON) and `GET /metrics` (Prometheus text) on the gateway's
 * own front (what src/util/ops.ts handleOps does for node:http parts). true when it answered.
 */
function serveOps(req: FrontRequest, registry: Registry, health: () => Health): boolean {
  // every proxied request passes here: no allocation unless the URL has a query
  const q = req.url.indexOf('?');
  const path = q < 0 ? req.url : req.url.slice(0, q);
  if (req.method !== 'GET' || (path !== '/healthz' && path !== '/metrics')) return false;
  req.handler = { clientClosed() {}, clientDrained() {} };
  return answerOps(req.method, req.url, registry, health, (status, type, body) => {
    const bytes = Buffer.from(body);
    req.writeHead(status, `content-type: ${type}\r\n`, bytes.length);
    req.end(bytes);
  });
}
