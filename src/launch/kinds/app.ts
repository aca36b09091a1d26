import { nodePartKind, partSpec } from './router.js';

/** The sample order service per eZone, on its eZone's MariaDB and Redis. */
export const app = nodePartKind({
  kind: 'app',
  after: ['mariadb', 'redis', 'gzs'],
  description: 'sample order service per eZone (MariaDB + Redis cache-aside)',
  entry: 'src/orders/main.js',
  instances: ({ topology, dataDir }) =>
    topology.zones.map((z) => {
      const d = topology.deployment.zones[z.id];
      return partSpec('app', z.id, d.host, d.ports.app, dataDir(z.id, 'app'), topology);
    }),
});
