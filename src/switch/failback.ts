/**
 * Failback of eZone A: planned moves of A's original shards (the topology's epoch-1 owners) back
 * from wherever they are, refused until A is healthy as seen from outside and the failover's
 * order locks are gone (A's tail applied at B); each move then checks DRC B → A has caught up.
 */
import { EzError } from '../util/errors.js';
import type { DriverOptions } from './driver.js';
import { originalShards, outsideInVerdict } from './failover.js';
import { type MoveReport, runMove } from './move.js';

export interface FailbackOptions extends DriverOptions {
  zone: string;
  timeoutMs?: number;
  maxLagMs?: number;
}

export interface FailbackReport {
  zone: string;
  outcome: 'failed-back' | 'nothing-to-do' | 'refused' | 'partial';
  reason?: string;
  zoneActivatedAt?: number;
  moves: MoveReport[];
}

const refused = (message: string) => new EzError('EZ_SWITCH_REFUSED', message, 1);

export async function runFailback(o: FailbackOptions): Promise<FailbackReport> {
  const { topology, gzs, zone } = o;
  if (!topology.zones.some((z) => z.id === zone))
    throw new EzError(
      'EZ_USAGE',
      `--zone ${zone}: unknown eZone (known: ${topology.zones.map((z) => z.id).join(', ')})`,
      2,
    );
  let { table } = await gzs.table();
  const groups = originalShards(topology, zone, table.shards);
  if (groups.size === 0)
    return { zone, outcome: 'nothing-to-do', reason: `${zone} owns all its shards`, moves: [] };
  const v = await outsideInVerdict({ ...o, zone, downAfterMs: 0 });
  if (v.router.reachable !== true || v.gzs.live === 0)
    throw refused(
      `${zone} is not healthy yet: APIRouter ${v.router.reachable ? 'reaches it' : `does not reach it (${v.router.error ?? 'no answer'})`}, GZS hears ${v.gzs.live} live holder(s) of it`,
    );
  const shards = [...groups.values()].flat();
  const rules = (table as { orderLockRules?: Record<string, { zone: string }> }).orderLockRules ?? {};
  const pending = shards.filter((s) => rules[s]?.zone === zone);
  if (pending.length > 0)
    throw refused(
      `order locks of the failover still hold shard(s) ${pending.join(', ')}: ${zone}'s tail has not been applied everywhere yet (DRC clears them once it has; \`ezctl locks list\`)`,
    );
  const report: FailbackReport = { zone, outcome: 'failed-back', moves: [] };
  if (table.zones[zone]?.state !== 'active') {
    await gzs.setZoneState(zone, 'active');
    report.zoneActivatedAt = Date.now();
    ({ table } = await gzs.table());
  }
  for (const [owner, list] of groups) {
    const m = await runMove({ ...o, shards: list, to: zone, timeoutMs: o.timeoutMs, maxLagMs: o.maxLagMs });
    report.moves.push(m);
    if (m.outcome !== 'switched') {
      report.outcome = report.moves.length > 1 ? 'partial' : 'refused';
      report.reason = `moving shard(s) ${list.join(', ')} back from ${owner}: ${m.reason ?? m.outcome}`;
      break;
    }
  }
  return report;
}
