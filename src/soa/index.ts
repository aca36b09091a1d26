// SOA Proxy (DESIGN §1, §8): one per eZone, for service-to-service calls. Same request path as
// APIRouter (src/router/gateway.ts), different targets: the local service for local shards, the
// owner eZone's SOA Proxy for the rest — the only path between eZones, so it can run through a link.
import {
  ErrorCode,
  type GatewayServer,
  type GatewayServerOptions,
  startGatewayServer,
} from '../router/index.js';
import { checkWrite } from '../routing/index.js';
import { partAddress, type Topology } from '../topology/index.js';

export interface SoaProxyOptions extends GatewayServerOptions {
  /** the eZone this proxy serves */
  zone: string;
  /** this eZone's service instances (`http://127.0.0.1:27204`) */
  service: string[];
  /**
   * peer eZone → where this proxy reaches that eZone's SOA Proxy: direct, or the listen address of
   * the link `<zone>-><peer>:soa` so the harness can slow or cut it
   */
  peers: Record<string, string>;
}

/**
 * Start a SOA Proxy. A caller's call (X-Ez-Route) for a local shard goes to the local service; for a
 * shard of another eZone it goes to that eZone's SOA Proxy, marked `X-Ez-Via: <this eZone>`. A
 * marked call is served locally or answered 421 — never forwarded again, so no call can loop.
 * Answers carry X-Ez-Zone (the eZone that served) and X-Ez-Soa-Path (`ez-bj>ez-sh`).
 */
export function startSoaProxy(opts: SoaProxyOptions): Promise<GatewayServer> {
  const local = opts.zone;
  return startGatewayServer(opts, {
    part: 'soa',
    fields: { zone: local },
    soaZone: local,
    targets(make) {
      const service = make.target(local, 'local', opts.service);
      const inbound = make.target(local, 'inbound', opts.service);
      const remote = new Map(
        Object.entries(opts.peers)
          .filter(([zone]) => zone !== local)
          .map(([zone, origin]) => [zone, make.target(zone, 'remote', [origin], ['x-ez-via', local])]),
      );
      return (d, via) => {
        if (via !== undefined) {
          // a call a peer forwarded here: served only if this eZone owns the shard (the shared
          // write guard's verdict and words), never forwarded again
          const v = checkWrite(opts.source.table, local, d.shard);
          if (!v.ok && v.code === 'EZ_WRONG_ZONE')
            return {
              status: 421,
              code: ErrorCode.wrongZone,
              message: `${v.message}; a call forwarded by ${via} is never forwarded again`,
            };
          return inbound;
        }
        if (d.zone === local) return service;
        return (
          remote.get(d.zone) ?? {
            status: 503,
            code: ErrorCode.zoneUnavailable,
            message: `no SOA Proxy address for eZone ${d.zone} (owner of shard ${d.shard}); not served elsewhere`,
          }
        );
      };
    },
    health: () => ({ zone: local, service: opts.service, peers: opts.peers }),
  });
}

/** The direct address of every other eZone's SOA Proxy (`deployment.zones.<id>.ports.soa`). */
export function peersFromTopology(topology: Topology, zone: string): Record<string, string> {
  return Object.fromEntries(
    topology.zones
      .filter((z) => z.id !== zone)
      .map((z) => [
        z.id,
        `http://${partAddress(topology, z.id, 'soa')}:${topology.deployment.zones[z.id].ports.soa}`,
      ]),
  );
}
