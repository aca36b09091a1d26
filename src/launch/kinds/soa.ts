/** Launcher kind `soa`: the SOA Proxy per eZone (service calls; the only path between eZones, through `<zone>-><peer>:soa`). */
import { reach } from '../../topology/index.js';
import { httpOf, nodePartKind, partSpec } from './node-part.js';

export const soa = nodePartKind({
  kind: 'soa',
  after: ['orders', 'gzs', 'links'],
  description: 'SOA Proxy per eZone (service calls; the only path between eZones)',
  entry: 'src/soa/main.js',
  instances: (ctx) =>
    ctx.topology.zones.map((z) => {
      const d = ctx.topology.deployment.zones[z.id];
      const args = [
        '--service',
        `http://${ctx.hostOf(z.id, 'orders').address}:${d.ports.orders}`,
        ...ctx.topology.zones
          .filter((p) => p.id !== z.id)
          .flatMap((p) => [
            '--peer',
            `${p.id}=${httpOf(reach(ctx.topology, ctx.links.on, z.id, p.id, 'soa'))}`,
          ]),
      ];
      return partSpec(ctx, { kind: 'soa', zone: z.id, port: d.ports.soa, site: z.id, args });
    }),
});
