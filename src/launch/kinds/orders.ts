/** Launcher kind `orders`: the sample order service per eZone, on its eZone's DAL (or MariaDB without DALs) and Redis. */
import { nodePartKind, partSpec } from './node-part.js';

export const orders = nodePartKind({
  kind: 'orders',
  after: ['mariadb', 'redis', 'gzs', 'links', 'dal'],
  description: 'sample order service per eZone (MariaDB + Redis cache-aside)',
  entry: 'src/orders/main.js',
  instances: (ctx) =>
    ctx.topology.zones.map((z) => {
      const d = ctx.topology.deployment.zones[z.id];
      // through the eZone's DAL, the safety net under the service's own ownership check
      const here = ctx.hostOf(z.id, 'orders').address;
      const args = [
        '--mysql',
        `${here}:${ctx.selected.has('dal') ? d.ports.dal : d.ports.mysql}`,
        '--redis',
        `${here}:${d.ports.redis}`,
      ];
      return partSpec(ctx, {
        kind: 'orders',
        zone: z.id,
        host: d.host,
        port: d.ports.orders,
        site: z.id,
        args,
      });
    }),
});
