/** Launcher kind `router`: the APIRouter, one for the cluster, at the edge in front of every eZone. */
import { EDGE, reach } from '../../topology/index.js';
import { httpOf, nodePartKind, partSpec } from './node-part.js';

export const router = nodePartKind({
  kind: 'router',
  after: ['orders', 'gzs', 'links'],
  description:
    'APIRouter: routing tag -> shard -> eZone reverse proxy (at the edge, through edge-><eZone>:api)',
  entry: 'src/router/main.js',
  instances: (ctx) => {
    const { topology } = ctx;
    const ep = topology.deployment.router;
    const args = topology.zones.flatMap((z) => [
      '--upstream',
      `${z.id}=${httpOf(reach(topology, ctx.links.on, EDGE, z.id, 'api'))}`,
    ]);
    return [partSpec(ctx, { kind: 'router', port: ep.port, site: EDGE, args })];
  },
});
