// Names, ports and ids of DRC's replicators and readers, derived from the topology.
import { checkZone, type Topology, type ZoneId } from '../topology/index.js';
import { UsageError } from '../util/errors.js';
import type { TableSpec } from './types.js';

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

/**
 * Replica server id of a binlog reader: unique per reader and source (a duplicate kicks the other
 * reader off, errno 4052), stable across restarts, and far from eZone server ids (high bit set).
 * FNV-1a of the reader's name.
 */
export function readerServerId(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h | 0x80000000) >>> 0;
}

export const tableSpecs = (topology: Topology): Map<string, TableSpec> =>
  new Map(topology.tables.map((t) => [t.name, { ...t, primaryKey: [...t.primaryKey] }]));
