/** Launcher kind `router`: the APIRouter, one for the cluster, in front of every eZone. */
import { nodePartKind, partSpec } from './node-part.js';

/** APIRouter: one, in front of every eZone (DESIGN §3). */
export const router = nodePartKind({
  kind: 'router',
  after: ['orders', 'gzs'],
  description: 'APIRouter: routing tag -> shard -> eZone reverse proxy',
  entry: 'src/router/main.js',
  instances: ({ topology, dataDir }) => {
    const ep = topology.deployment.router;
    return [partSpec('router', undefined, ep.host, ep.port, dataDir(undefined, 'router'), topology)];
  },
});
