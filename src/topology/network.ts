// Link latency between sites from the topology's `network` section: what `ezctl up` gives each link.
import { EDGE_SITE } from './schema.js';
import type { Topology, ZoneId } from './types.js';

/**
 * Round trip in milliseconds between two sites: eZone ids or "edge" (APIRouter's site). A pair
 * override if the topology has one, else the default between eZones; edgeRtt to or from the edge;
 * 0 from a site to itself.
 */
export function rttBetween(topology: Pick<Topology, 'zones' | 'network'>, a: ZoneId, b: ZoneId): number {
  for (const site of [a, b]) {
    if (site !== EDGE_SITE && !topology.zones.some((z) => z.id === site))
      throw new Error(
        `rttBetween: unknown site ${JSON.stringify(site)} (eZones: ${topology.zones.map((z) => z.id).join(', ')}, or "${EDGE_SITE}")`,
      );
  }
  if (a === b) return 0;
  if (a === EDGE_SITE || b === EDGE_SITE) return topology.network.edgeRttMs;
  const pair = topology.network.pairs.find(
    (p) => (p.zones[0] === a && p.zones[1] === b) || (p.zones[0] === b && p.zones[1] === a),
  );
  return pair ? pair.rttMs : topology.network.rttMs;
}
