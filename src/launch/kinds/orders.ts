/** Launcher kind `orders`: the sample order service per eZone, on its eZone's MariaDB and Redis. */
import { nodePartKind, partSpec } from './node-part.js';

export const orders = nodePartKind({
  kind: 'orders',
  after: ['mariadb', 'redis', 'gzs', 'links'],
  description: 'sample order service per eZone (MariaDB + Redis cache-aside)',
  entry: 'src/orders/main.js',
  instances: (ctx) =>
    ctx.topology.zones.map((z) => {
      const d = ctx.topology.deployment.zones[z.id];
      return partSpec(ctx, { kind: 'orders', zone: z.id, host: d.host, port: d.ports.orders, site: z.id });
    }),
});
