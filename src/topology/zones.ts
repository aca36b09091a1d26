/** Checking an eZone id given by a user (a flag, an API body, a drill file) against a topology: one error wording. */
import { UsageError } from '../util/errors.js';
import type { Topology, ZoneId } from './types.js';

/** `what: unknown eZone "ez-xx" (known: ez-bj, ez-sh)` as a UsageError (exit 2). */
export function unknownZoneError(topology: Topology, what: string, id: unknown): UsageError {
  const shown = typeof id === 'string' ? JSON.stringify(id) : String(id);
  return new UsageError(
    `${what}: unknown eZone ${shown} (known: ${topology.zones.map((z) => z.id).join(', ')})`,
    'EZ_UNKNOWN_ZONE',
  );
}

/** `id` when it names an eZone of the topology, else unknownZoneError. */
export function checkZone(topology: Topology, what: string, id: unknown): ZoneId {
  if (typeof id !== 'string' || !topology.zones.some((z) => z.id === id))
    throw unknownZoneError(topology, what, id);
  return id;
}
