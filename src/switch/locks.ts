/**
 * `ezctl locks list` / `ezctl locks release`: the order locks a failover left (DESIGN §6). A rule
 * per shard locks every order made before the failover until the failed eZone's tail has been
 * applied at the new owner (DRC clears it then); an operator may release single orders first,
 * with a reason that GZS's history keeps.
 */
import type { ChangeResult } from '../gzs/index.js';
import { decodeOrderId, orderIdProblem, orderLockOf } from '../routing/index.js';
import { UsageError } from '../util/errors.js';
import type { DriverOptions } from './driver.js';

export interface LockList {
  epoch: number;
  explicit: { orderId: string; reason: string; since: number }[];
  rules: {
    shard: number;
    zone: string;
    createdBeforeMs: number;
    reason: string;
    since: number;
    released: { orderId: string; reason: string; at: number }[];
  }[];
  /** with --order: is that order locked now, and why */
  order?: { orderId: string; shard: number; madeAtMs: number; locked: boolean; reason: string | null };
}

const checkOrderId = (id: string): void => {
  const p = orderIdProblem(id);
  if (p) throw new UsageError(`--order: ${p}`);
};

export async function listLocks(o: Pick<DriverOptions, 'gzs'> & { orderId?: string }): Promise<LockList> {
  if (o.orderId !== undefined) checkOrderId(o.orderId);
  const { table } = await o.gzs.table();
  const out: LockList = {
    epoch: table.epoch,
    explicit: Object.entries(table.orderLocks).map(([orderId, l]) => ({ orderId, ...l })),
    rules: Object.entries(table.orderLockRules ?? {}).map(([shard, r]) => ({
      shard: Number(shard),
      zone: r.zone,
      createdBeforeMs: r.createdBeforeMs,
      reason: r.reason,
      since: r.since,
      released: Object.entries(r.released).map(([orderId, x]) => ({ orderId, ...x })),
    })),
  };
  if (o.orderId !== undefined) {
    const f = decodeOrderId(o.orderId);
    const lock = orderLockOf(table, o.orderId);
    out.order = {
      orderId: o.orderId,
      shard: f.shard,
      madeAtMs: f.timestampMs,
      locked: lock !== undefined,
      reason: lock?.reason ?? null,
    };
  }
  return out;
}

export async function releaseLock(
  o: Pick<DriverOptions, 'gzs'> & { orderId: string; reason: string; ifEpoch?: number },
): Promise<ChangeResult> {
  checkOrderId(o.orderId);
  if (!o.reason.trim())
    throw new UsageError('--reason: expected why the order is released (kept in GZS history)');
  return o.gzs.changes([{ op: 'order-lock-release', orderId: o.orderId, reason: o.reason }], o.ifEpoch);
}

const iso = (ms: number) => new Date(ms).toISOString();

export function formatLocks(l: LockList): string {
  const lines: string[] = [`epoch ${l.epoch}`];
  if (l.order)
    lines.push(
      `order ${l.order.orderId} (shard ${l.order.shard}, made ${iso(l.order.madeAtMs)}): ${l.order.locked ? `LOCKED — ${l.order.reason}` : 'not locked'}`,
    );
  if (l.rules.length === 0) lines.push('order-lock rules: none');
  for (const r of l.rules) {
    lines.push(
      `shard ${r.shard}: orders made before ${iso(r.createdBeforeMs)} locked until ${r.zone}'s tail is applied (since ${iso(r.since)}; ${r.reason}); ${r.released.length} released`,
    );
    for (const x of r.released.slice(0, 10))
      lines.push(`  released ${x.orderId} at ${iso(x.at)}: ${x.reason}`);
    if (r.released.length > 10) lines.push(`  … ${r.released.length - 10} more (--json lists all)`);
  }
  lines.push(`explicit order locks: ${l.explicit.length || 'none'}`);
  for (const x of l.explicit.slice(0, 10)) lines.push(`  ${x.orderId} since ${iso(x.since)}: ${x.reason}`);
  if (l.explicit.length > 10) lines.push(`  … ${l.explicit.length - 10} more (--json lists all)`);
  return lines.join('\n');
}
