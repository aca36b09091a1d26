// The processes a topology implies and their names and ports (DESIGN §1): one DRC replicator per
// ordered eZone pair, one invalidator per eZone, the eZone of a MariaDB server id. Pure.
import { UsageError } from '../util/errors.js';
import type { Topology, ZoneId } from './types.js';
import { checkZone } from './zones.js';

/** Launcher name of the replicator A → B: it runs in (belongs to) the target eZone B. */
export const drcInstanceName = (from: ZoneId, to: ZoneId): string => `drc@${to}<-${from}`;
export const invalidatorInstanceName = (zone: ZoneId): string => `invalidator@${zone}`;

/** The ordered eZone pairs of a topology: one replicator each (3 eZones: 6). */
export function directions(topology: Topology): { from: ZoneId; to: ZoneId }[] {
  const out: { from: ZoneId; to: ZoneId }[] = [];
  for (const from of topology.zones)
    for (const to of topology.zones) if (from.id !== to.id) out.push({ from: from.id, to: to.id });
  return out;
}

/**
 * Metrics/health port of the replicator A → B: B's `ports.drc` plus the index of A among the other
 * eZones (topology order), the ports the topology loader reserves (drc, drc+1, ...).
 */
export function drcPort(topology: Topology, from: ZoneId, to: ZoneId): number {
  checkDirection(topology, from, to);
  const others = topology.zones.map((z) => z.id).filter((z) => z !== to);
  return topology.deployment.zones[to].ports.drc + others.indexOf(from);
}

export function checkDirection(topology: Topology, from: ZoneId, to: ZoneId): void {
  checkZone(topology, '--from', from);
  checkZone(topology, '--to', to);
  if (from === to) throw new UsageError(`--from and --to are both ${from}: a direction needs two eZones`);
}

export function serverIdOf(topology: Topology, zone: ZoneId): number {
  return topology.zones.find((x) => x.id === checkZone(topology, 'eZone', zone))!.serverId;
}

export function zoneOfServerId(topology: Topology, serverId: number): ZoneId | undefined {
  return topology.zones.find((z) => z.serverId === serverId)?.id;
}
