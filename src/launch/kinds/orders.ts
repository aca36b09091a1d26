/** Launcher kind `orders`: the sample order service per eZone, on its eZone's MariaDB and Redis. */
import { nodePartKind, partSpec } from './node-part.js';

export const orders = nodePartKind({
  kind: 'orders',
  after: ['mariadb', 'redis', 'gzs'],
  description: 'sample order service per eZone (MariaDB + Redis cache-aside)',
  entry: 'src/orders/main.js',
  instances: ({ topology, dataDir }) =>
    topology.zones.map((z) => {
      const d = topology.deployment.zones[z.id];
      return partSpec('orders', z.id, d.host, d.ports.orders, dataDir(z.id, 'orders'), topology);
    }),
});
