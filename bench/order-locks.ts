/**
 * Order locks at failover scale (`npm run bench:order-locks`): 100,000 locked orders (the rule per
 * shard a failover of ez-bj leaves) against the same table without locks, side by side.
 *  1. lock check: the write guard (`checkWrite` with an order id, as the order service, APIRouter
 *     and the DAL call it) over 100,000 distinct order ids of the lost shards, made before the
 *     failover (all locked) — against the same ids on the table without rules (none locked);
 *  2. push: bench:gzs-push (GZS process, fsync per change, 2 × 100 subscribers) run plainly and
 *     with `--failover-rules` (the table carries the rules while it is pushed).
 * Prints one JSON line: {"lockedOrders","tableBytes":{without,withRules},"check":{nsWithRules,
 * nsWithout,ratio},"push":{p99MsWithout,p99MsWithRules,ratio}}.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { applyChanges } from '../src/gzs/changes.js';
import { checkWrite, encodeOrderId, initialTable, type RoutingTable } from '../src/routing/index.js';
import { loadTopology } from '../src/topology/index.js';

const N = 100_000;
const round = (n: number, d = 2): number => Math.round(n * 10 ** d) / 10 ** d;

function checkNs(table: RoutingTable, ids: string[], shards: number[], wantLocked: boolean): number {
  let locked = 0;
  // warm up, then the best of five passes (the machine is shared)
  for (let i = 0; i < ids.length; i++) if (!checkWrite(table, 'ez-sh', shards[i], ids[i]).ok) locked++;
  if (locked !== (wantLocked ? ids.length : 0))
    throw new Error(`expected ${wantLocked ? ids.length : 0} locked, the guard said ${locked}`);
  let best = Number.POSITIVE_INFINITY;
  for (let pass = 0; pass < 5; pass++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < ids.length; i++) checkWrite(table, 'ez-sh', shards[i], ids[i]);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / ids.length);
  }
  return best;
}

function push(extra: string[]): { p99Ms: number; tableBytes: number } {
  const script = fileURLToPath(new URL('./gzs-push.js', import.meta.url));
  const out = execFileSync(
    process.execPath,
    [script, '--workers', '2', '--per-worker', '100', '--changes', '20', '--interval', '100', ...extra],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const line = JSON.parse(out.trim().split('\n').at(-1)!) as { p99Ms: number; tableBytes: number };
  return line;
}

const topology = loadTopology();
const plain = initialTable(topology);
const lost = [...topology.shards].filter(([, z]) => z === 'ez-bj').map(([s]) => s);
const failoverAt = Date.now();
const { table: withRules } = applyChanges(
  plain,
  lost.flatMap((shard) => [
    { op: 'owner' as const, shard, zone: 'ez-sh' },
    { op: 'order-lock-rule' as const, shard, zone: 'ez-bj', createdBeforeMs: failoverAt, reason: 'bench' },
  ]),
  failoverAt,
);
const { table: without } = applyChanges(
  plain,
  lost.map((shard) => ({ op: 'owner' as const, shard, zone: 'ez-sh' })),
  failoverAt,
);
// 100,000 orders of the lost shards made over the hour before the failover
const ids: string[] = [];
const shards: number[] = [];
for (let i = 0; i < N; i++) {
  const shard = lost[i % lost.length];
  shards.push(shard);
  ids.push(encodeOrderId({ timestampMs: failoverAt - 1 - (i % 3_600_000), shard, sequence: i % 4096 }));
}
process.stderr.write(`lock check over ${N} order ids…\n`);
const nsWithRules = checkNs(withRules, ids, shards, true);
const nsWithout = checkNs(without, ids, shards, false);
process.stderr.write('push with and without the rules (bench:gzs-push, 200 subscribers)…\n');
const pushWithout = push([]);
const pushWith = push(['--failover-rules']);
process.stdout.write(
  `${JSON.stringify({
    lockedOrders: N,
    lostShards: lost.length,
    tableBytes: { without: JSON.stringify(without).length, withRules: JSON.stringify(withRules).length },
    check: {
      nsWithRules: round(nsWithRules),
      nsWithout: round(nsWithout),
      ratio: round(nsWithRules / nsWithout),
    },
    push: {
      p99MsWithout: pushWithout.p99Ms,
      p99MsWithRules: pushWith.p99Ms,
      ratio: round(pushWith.p99Ms / pushWithout.p99Ms),
      pushedBytesWithRules: pushWith.tableBytes,
    },
  })}\n`,
);
