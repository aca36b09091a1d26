/**
 * `ezctl switch status`: what is in motion — the journal's open switches and their step, the
 * last ended ones, locked shards, order locks, DRC lag per direction, and the holders that have
 * not acknowledged the current epoch.
 */
import { type DirectionStatus, drcStatus } from '../drc/index.js';
import { OPEN_STATES, type SwitchEntry } from '../gzs/index.js';
import { table as textTable } from '../util/table.js';
import type { DriverOptions } from './driver.js';

export interface SwitchStatus {
  epoch: number;
  open: SwitchEntry[];
  recent: SwitchEntry[];
  lockedShards: number[];
  orderLocks: {
    explicit: number;
    rules: { shard: number; zone: string; createdBeforeMs: number; released: number }[];
  };
  drc: Pick<DirectionStatus, 'from' | 'to' | 'state' | 'lag'>[];
  notAcked: string[];
  /** true when nothing is in motion */
  quiet: boolean;
}

export async function switchStatus(o: DriverOptions): Promise<SwitchStatus> {
  const [{ table }, journal, acks, drc] = await Promise.all([
    o.gzs.table(),
    o.gzs.switches(),
    o.gzs.acks(),
    drcStatus(o.topology),
  ]);
  const open = journal.entries.filter((e) => OPEN_STATES.has(e.state));
  const recent = journal.entries.filter((e) => !OPEN_STATES.has(e.state)).slice(-5);
  const rules =
    (
      table as {
        orderLockRules?: Record<string, { zone: string; createdBeforeMs: number; released?: string[] }>;
      }
    ).orderLockRules ?? {};
  const lockedShards = Object.entries(table.shards)
    .filter(([, s]) => s.state === 'locked')
    .map(([id]) => Number(id));
  return {
    epoch: table.epoch,
    open,
    recent,
    lockedShards,
    orderLocks: {
      explicit: Object.keys(table.orderLocks).length,
      rules: Object.entries(rules).map(([shard, r]) => ({
        shard: Number(shard),
        zone: r.zone,
        createdBeforeMs: r.createdBeforeMs,
        released: r.released?.length ?? 0,
      })),
    },
    drc: drc.map((d) => ({ from: d.from, to: d.to, state: d.state, lag: d.lag })),
    notAcked: acks.waitingFor,
    quiet: open.length === 0 && lockedShards.length === 0,
  };
}

const ago = (ms: number) => (ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`);

export function formatSwitchStatus(s: SwitchStatus, now = Date.now()): string {
  const lines: string[] = [
    `epoch ${s.epoch}; ${s.quiet ? 'nothing in motion' : `${s.open.length} switch(es) open`}`,
  ];
  const row = (e: SwitchEntry) => [
    e.id,
    e.kind,
    e.shards.length > 6 ? `${e.shards.slice(0, 6).join(',')}… (${e.shards.length})` : e.shards.join(','),
    `${e.from} -> ${e.to}`,
    e.state,
    e.steps.at(-1) ? `${e.steps.at(-1)!.step} ${ago(now - e.steps.at(-1)!.at)} ago` : '',
    OPEN_STATES.has(e.state)
      ? `${e.lease.holder} (${e.lease.expiresAt > now ? `lease ${ago(e.lease.expiresAt - now)}` : 'lease expired'})`
      : (e.rollback?.reason ?? ''),
  ];
  if (s.open.length > 0)
    lines.push(
      '',
      textTable(['SWITCH', 'KIND', 'SHARDS', 'FROM -> TO', 'STATE', 'LAST STEP', 'DRIVER'], s.open.map(row)),
    );
  if (s.recent.length > 0)
    lines.push(
      '',
      'recent:',
      textTable(['SWITCH', 'KIND', 'SHARDS', 'FROM -> TO', 'STATE', 'LAST STEP', 'WHY'], s.recent.map(row)),
    );
  lines.push('', `locked shards: ${s.lockedShards.length === 0 ? 'none' : s.lockedShards.join(', ')}`);
  lines.push(
    `order locks: ${s.orderLocks.explicit} explicit; ${s.orderLocks.rules.length === 0 ? 'no rules' : s.orderLocks.rules.map((r) => `shard ${r.shard} (from ${r.zone}, before ${new Date(r.createdBeforeMs).toISOString()}, ${r.released} released)`).join('; ')}`,
  );
  lines.push(`holders behind epoch ${s.epoch}: ${s.notAcked.length === 0 ? 'none' : s.notAcked.join(', ')}`);
  lines.push(
    '',
    textTable(
      ['DRC', 'STATE', 'LAG now/p99 ms'],
      s.drc.map((d) => [
        `${d.from} -> ${d.to}`,
        d.state,
        `${d.lag.nowMs?.toFixed(1) ?? '-'}/${d.lag.p99Ms?.toFixed(1) ?? '-'}`,
      ]),
    ),
  );
  return lines.join('\n');
}
