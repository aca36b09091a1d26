// APIRouter (DESIGN §3): the HTTP reverse proxy in front of every eZone. The request path lives in
// gateway.ts and is shared with the SOA Proxy (src/soa/), which uses this face only.
import { partAddress, type Topology } from '../topology/index.js';
import { ErrorCode } from './reply.js';
import { type GatewayServer, type GatewayServerOptions, startGatewayServer } from './server.js';
import { ZoneProbe } from './zone-probe.js';

export { type AccessLogOptions, parseAccessLog } from './access-log.js';
export { gatewayFlags, gatewayOptionsFrom } from './flags.js';
export { DEFAULT_LOCK_WAIT_MS, DEFAULT_REPLAY_LIMIT, Gateway, type Refusal, type Target } from './gateway.js';
export { H_EPOCH, H_ROUTE, H_SHARD, H_VIA, H_ZONE } from './headers.js';
export { ErrorCode, errorBody } from './reply.js';
export {
  type GatewayServer,
  type GatewayServerOptions,
  type PartSetup,
  startGatewayServer,
  type TargetMaker,
} from './server.js';
export { DEFAULT_POOL, type PoolOptions, parseOrigin } from './upstream.js';
export { ZoneProbe, type ZoneReach } from './zone-probe.js';

export interface ApiRouterOptions extends GatewayServerOptions {
  /** eZone → its upstream instances (`http://127.0.0.1:27204`, …), picked round robin */
  upstreams: Record<string, string[]>;
  /** how often each eZone is probed for the outside view (default 500 ms; 0: no probe, e.g. tests counting upstream requests) */
  probeIntervalMs?: number;
}

/** Start an APIRouter: tag → shard → eZone → one of that eZone's instances. */
export function startApiRouter(opts: ApiRouterOptions): Promise<GatewayServer> {
  // how each eZone looks from outside: the failover's verdict reads it from /healthz
  const probe = new ZoneProbe(opts.upstreams, { intervalMs: opts.probeIntervalMs });
  return startGatewayServer(opts, {
    part: 'router',
    targets(make) {
      const targets = new Map(
        Object.entries(opts.upstreams).map(([zone, origins]) => [zone, make.target(zone, 'zone', origins)]),
      );
      return (d) =>
        targets.get(d.zone) ?? {
          status: 503,
          code: ErrorCode.zoneUnavailable,
          message: `no upstream configured for eZone ${d.zone} (owner of shard ${d.shard} at epoch ${d.epoch}); not sent to another eZone`,
        };
    },
    health: () => ({ zones: Object.keys(opts.upstreams), reach: probe.view() }),
    attach(registry) {
      if (opts.probeIntervalMs === 0) return () => undefined;
      probe.start(registry);
      return () => probe.stop();
    },
  });
}

/** Every eZone's order service (`deployment.zones.<id>.ports.orders`) as that eZone's one upstream. */
export function upstreamsFromTopology(topology: Topology): Record<string, string[]> {
  return Object.fromEntries(
    topology.zones.map((z) => [
      z.id,
      [`http://${partAddress(topology, z.id, 'orders')}:${topology.deployment.zones[z.id].ports.orders}`],
    ]),
  );
}
