/** Launcher kind `soa`: the SOA Proxy per eZone (service calls; the only path between eZones). */
import { nodePartKind, partSpec } from './node-part.js';

/** SOA Proxy per eZone: service-to-service calls, across eZones only through it. */
export const soa = nodePartKind({
  kind: 'soa',
  after: ['orders', 'gzs'],
  description: 'SOA Proxy per eZone (service calls; the only path between eZones)',
  entry: 'src/soa/main.js',
  instances: ({ topology, dataDir }) =>
    topology.zones.map((z) => {
      const d = topology.deployment.zones[z.id];
      return partSpec('soa', z.id, d.host, d.ports.soa, dataDir(z.id, 'soa'), topology);
    }),
});
