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
      const dal = ctx.selected.has('dal');
      const args = [
        '--mysql',
        `${ctx.hostOf(z.id, dal ? 'dal' : 'mariadb').address}:${dal ? d.ports.dal : d.ports.mysql}`,
        '--redis',
        `${ctx.hostOf(z.id, 'redis').address}:${d.ports.redis}`,
      ];
      return partSpec(ctx, {
        kind: 'orders',
        zone: z.id,
        port: d.ports.orders,
        site: z.id,
        args,
      });
    }),
});
