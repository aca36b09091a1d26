/** What the `ezctl gzs …` commands share: flags, where GZS is, and how results read on a terminal. */
import type { RoutingTable } from '../routing/index.js';
import type { AckReport } from '../shared/gzs-protocol.js';
import { canonicalShard } from '../shared/gzs-protocol.js';
import { controlGzsUrl, loadTopology, MAX_SHARD } from '../topology/index.js';
import { UsageError } from '../util/errors.js';
import { type ChangeResult, GzsApi, type HistoryResult } from './api.js';
import { describeChange } from './changes.js';

export function gzsContext(flags: { gzs?: string; topology?: string; token?: string }): {
  api: GzsApi;
  urls: string[];
} {
  const urls = flags.gzs ? flags.gzs : controlGzsUrl(loadTopology(flags.topology));
  const api = new GzsApi(urls, { token: flags.token });
  return { api, urls: api.urls };
}

/** A shard id as the user typed it: checked before GZS is asked (exit 2 on a typo). */
export function shardArg(text: string): number {
  const shard = canonicalShard(text);
  if (shard === undefined)
    throw new UsageError(
      `shard ${JSON.stringify(text)}: expected a shard id (integer 0..${MAX_SHARD} in canonical decimal, e.g. 7 not 007)`,
    );
  return shard;
}

/** `0-3, 7, 9-12` */
function ranges(ids: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < ids.length; ) {
    let j = i;
    while (j + 1 < ids.length && ids[j + 1] === ids[j] + 1) j++;
    out.push(i === j ? String(ids[i]) : `${ids[i]}-${ids[j]}`);
    i = j + 1;
  }
  return out.join(', ');
}

export function formatTable(t: RoutingTable, url: string): string {
  const lines = [`epoch ${t.epoch}  (GZS ${url})`, `global master  ${t.globalMaster}`, 'eZones:'];
  for (const [zone, z] of Object.entries(t.zones)) {
    const owned = Object.entries(t.shards)
      .filter(([, s]) => s.zone === zone)
      .map(([id]) => Number(id))
      .sort((a, b) => a - b);
    lines.push(
      `  ${zone.padEnd(12)} ${z.state.padEnd(7)} ${String(owned.length).padStart(4)} shards: ${ranges(owned) || '-'}`,
    );
  }
  const locked = Object.entries(t.shards)
    .filter(([, s]) => s.state === 'locked')
    .map(([id]) => Number(id))
    .sort((a, b) => a - b);
  lines.push(`locked shards  ${locked.length ? ranges(locked) : 'none'}`);
  const orders = Object.entries(t.orderLocks);
  lines.push(`order locks    ${orders.length}`);
  for (const [id, l] of orders.slice(0, 10))
    lines.push(`  ${id}  since ${new Date(l.since).toISOString()}  ${l.reason}`);
  if (orders.length > 10) lines.push(`  … ${orders.length - 10} more (--json lists all)`);
  const rules = Object.entries(t.orderLockRules ?? {});
  lines.push(`order rules    ${rules.length || 'none'}`);
  for (const [shard, r] of rules)
    lines.push(
      `  shard ${shard}: orders made before ${new Date(r.createdBeforeMs).toISOString()}, until ${r.zone}'s tail is applied; ${Object.keys(r.released).length} released  (${r.reason})`,
    );
  return lines.join('\n');
}

export function formatChange(r: ChangeResult): string {
  if (r.noop) return `epoch ${r.epoch}: no change (the table already is so; epoch not bumped)`;
  return `epoch ${r.epoch}: ${r.changes.map(describeChange).join('; ')}`;
}

export function formatAcks(r: AckReport): string {
  const head = r.allAcked
    ? `epoch ${r.epoch}: acknowledged by all ${r.live} live holder(s)`
    : r.warmingUp
      ? `epoch ${r.epoch}: GZS started less than one lease ago; holders may not have reported yet (${r.acked}/${r.live} live acknowledged)`
      : `epoch ${r.epoch}: ${r.acked}/${r.live} live holder(s) acknowledged; waiting for ${r.waitingFor.join(', ')}`;
  const now = Date.now();
  const rows = r.holders.map(
    (h) =>
      `  ${h.id.padEnd(36)} ${h.kind.padEnd(10)} ${(h.zone ?? '-').padEnd(8)} epoch ${String(h.epoch).padEnd(6)} ${h.live ? `live (lease ${Math.max(0, h.leaseExpiresAt - now)} ms)` : 'lease expired'}`,
  );
  return [head, ...rows].join('\n');
}

export function formatHistory(h: HistoryResult): string {
  if (h.entries.length === 0)
    return `epoch ${h.epoch}: no changes in the history${h.oldestEpoch ? ` since epoch ${h.oldestEpoch}` : ''}`;
  return h.entries
    .map(
      (e) =>
        `${String(e.epoch).padStart(6)}  ${new Date(e.at).toISOString()}  ${e.actor ?? '-'}  ${e.changes.map(describeChange).join('; ')}`,
    )
    .join('\n');
}
