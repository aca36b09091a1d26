// A routing decision as an operator reads it (`ezctl route`).
import type { RouteDecision } from './resolve.js';
import { ROUTE_KEYS } from './tag.js';

/** A decision as an operator reads it (`ezctl route`); `explain` adds one line per layer tried. */
export function formatDecision(d: RouteDecision, explain = false): string {
  const resolved = d.layers?.find((l) => l.outcome === 'resolved');
  const how = resolved
    ? `${d.decidedBy}=${resolved.value}${resolved.detail ? ` (${resolved.detail})` : ''}`
    : d.decidedBy;
  const lines = [
    `shard ${d.shard} -> eZone ${d.zone} (epoch ${d.epoch})`,
    `  shard state  ${d.shardState}`,
    `  eZone state  ${d.zoneState}`,
    `  decided by   ${how}`,
  ];
  if (explain && d.layers) {
    lines.push(`layers tried (precedence ${ROUTE_KEYS.join(' > ')}):`);
    for (const l of d.layers) {
      const what = [
        l.value,
        l.shard !== undefined && l.outcome === 'resolved' ? `-> shard ${l.shard}` : '',
        l.detail,
      ]
        .filter(Boolean)
        .join('  ');
      lines.push(`  ${l.key.padEnd(10)}${l.outcome.padEnd(15)}${what}`.trimEnd());
    }
  }
  return lines.join('\n');
}
