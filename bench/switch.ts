/**
 * Switch benchmark (DESIGN §6): planned shard moves under load, then an emergency failover after
 * SIGKILL of every process of one eZone; prints one JSON line (progress on stderr).
 *
 *   npm run bench:switch [-- --moves 20 --rate 20 --probe-ms 20 --gap 1000 --down-after 3000 --keep]
 *
 * 1. `ezctl up`'s own `up()` on the two-zones topology rewritten to free ports (every path between
 *    eZones through the built-in link server: 30 ms round trip; APIRouter's site 2 ms from each).
 * 2. The order workload through APIRouter at a steady rate (`--rate` order lives started per
 *    second, each create → accept → pick up → deliver, or cancelled), plus one prober per shard
 *    that moves: a create at a point of that shard every `--probe-ms` (open loop).
 * 3. `--moves` planned moves of single shards, one at a time, back and forth (one shard of each
 *    eZone: out and back, then the other's), `--gap` ms apart. Per move: the driver's window
 *    (lock in force → serving at B) and step times; client side: the longest latency of a
 *    request for that shard while the move ran, minus that shard's median latency in the second
 *    before it.
 * 4. SIGKILL of every process of eZone A (`<kind>@A`: MariaDB, Redis, DRC, invalidator, DAL, order
 *    service, SOA Proxy; GZS, APIRouter and the links stay), and at once `runFailover --when-down`;
 *    a writer creates orders of one of A's shards every 20 ms. rtoMs = kill → first acknowledged
 *    write of that shard served by B; split into the verdict wait, the switch, the first write.
 * Headline fields: blockP50Ms/blockP99Ms/blockMaxMs (the driver's windows), rollbacks,
 * clientErrors (during the moves, by EZ_ code), stepP99Ms, rtoMs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { OrderClient } from '../harness/workload/client.js';
import { orderPlan, pointSampler } from '../harness/workload/generator.js';
import type { Op } from '../harness/workload/history.js';
import { GzsApi } from '../src/gzs/index.js';
import { down, up } from '../src/launch/cluster.js';
import { hostFor } from '../src/launch/host.js';
import { readState } from '../src/launch/state.js';
import { FenceIndex } from '../src/routing/index.js';
import { type MoveReport, runFailover, runMove, type SwitchEvent } from '../src/switch/index.js';
import {
  controlGzsUrl,
  gzsZone,
  loadTopology,
  type Topology,
  writeFreePortTopology,
} from '../src/topology/index.js';
import { errorMessage } from '../src/util/errors.js';
import { seededRandom } from '../src/util/random.js';

const { values } = parseArgs({
  options: {
    moves: { type: 'string', default: '20' },
    rate: { type: 'string', default: '20' },
    'probe-ms': { type: 'string', default: '20' },
    gap: { type: 'string', default: '1000' },
    warmup: { type: 'string', default: '3000' },
    'down-after': { type: 'string', default: '3000' },
    'no-failover': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const MOVES = Number(values.moves);
const RATE = Number(values.rate);
const PROBE_MS = Number(values['probe-ms']);
const GAP_MS = Number(values.gap);
const WARMUP_MS = Number(values.warmup);
const DOWN_AFTER_MS = Number(values['down-after']);

const say = (msg: string) => process.stderr.write(`[bench:switch] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const loadBefore = loadavg().map((x) => Math.round(x * 100) / 100);
const root = mkdtempSync(join(tmpdir(), 'ezb-switch-'));
const stateDir = join(root, 'state');

const pct = (xs: number[], p: number): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] * 10) / 10;
};
const max = (xs: number[]): number | null => (xs.length ? Math.round(Math.max(...xs) * 10) / 10 : null);
const tally = (ops: Op[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const o of ops)
    if (o.result !== 'ok') out[o.error ?? 'EZ_UNKNOWN'] = (out[o.error ?? 'EZ_UNKNOWN'] ?? 0) + 1;
  return out;
};
/** when the op's answer came (ms since the Unix epoch) */
const endOf = (o: Op) => o.startedAt + o.ms;

let topology: Topology | undefined;
let stopping = false;
async function cleanup(): Promise<void> {
  stopping = true;
  if (topology) {
    say('stopping the cluster (down --purge)');
    await down(topology, { stateDir, purge: !values.keep }).catch((err) =>
      say(`down failed: ${errorMessage(err)}`),
    );
  }
  if (!values.keep) rmSync(root, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => cleanup().then(() => process.exit(130)));

try {
  const t = loadTopology(await writeFreePortTopology(root));
  topology = t;
  say(`ezctl up (state in ${stateDir})`);
  const tUp = performance.now();
  await up(t, { stateDir }, (e) => {
    if (e.type === 'failed') say(`${e.name} failed: ${e.message ?? ''}\n${e.logTail ?? ''}`);
  });
  const upMs = Math.round(performance.now() - tUp);
  say(`up in ${upMs} ms`);
  const gzs = new GzsApi(controlGzsUrl(t));
  const routerUrl = `http://127.0.0.1:${t.deployment.router.port}`;

  // A: the eZone that is not GZS's site (GZS is the control part: it stays); B: GZS's
  const B = gzsZone(t);
  const A = t.zones.find((z) => z.id !== B)!.id;
  const shardsOf = (z: string) => [...t.shards].filter(([, o]) => o === z).map(([s]) => s);
  const moving = [shardsOf(A)[0], shardsOf(B)[0]];
  const rtoShard = shardsOf(A)[1];

  // points per shard for the probers and the RTO writer
  const random = seededRandom(7);
  const index = FenceIndex.build(t.fences);
  const sample = pointSampler(t.fences, index, random);
  const pointsOf = new Map<number, { lat: number; lng: number }[]>();
  const want = [...moving, rtoShard];
  for (let i = 0; i < 2_000_000 && want.some((s) => (pointsOf.get(s)?.length ?? 0) < 16); i++) {
    const p = sample();
    const s = index.lookup(p.lat, p.lng);
    if (!want.includes(s)) continue;
    pointsOf.set(s, [...(pointsOf.get(s) ?? []), p]);
  }
  for (const s of want) if (!pointsOf.get(s)?.length) throw new Error(`no point found in shard ${s}`);

  // --- the load: order lives at a steady rate, plus a prober per moving shard ---
  const client = new OrderClient(routerUrl, 10_000);
  const ops: Op[] = []; // the workload's
  const probes = new Map<number, Op[]>(moving.map((s) => [s, []]));
  const inflight = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): void => {
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };
  let n = 0;
  const life = async (): Promise<void> => {
    const k = n++;
    const created = await client.create(sample(), k);
    ops.push(created);
    if (created.result !== 'ok' || !created.orderId) return;
    for (const step of orderPlan(random).slice(1) as Exclude<Op['kind'], 'create'>[]) {
      const op = await client.act(step, created.orderId);
      ops.push(op);
      if (op.result !== 'ok') return;
    }
  };
  /** calls `fn` every `everyMs` on a fixed schedule (open loop: a slow answer does not delay the next) */
  const steady = (everyMs: number, fn: () => Promise<unknown>): (() => void) => {
    const t0 = performance.now();
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    const tick = () => {
      if (stopping) return;
      const now = performance.now();
      while (t0 + i * everyMs <= now) {
        i++;
        track(fn());
      }
      timer = setTimeout(tick, Math.max(1, t0 + i * everyMs - performance.now()));
    };
    tick();
    return () => clearTimeout(timer);
  };
  const stopLoad = steady(1000 / RATE, life);
  let pn = 1_000_000;
  const stopProbes = moving.map((s) =>
    steady(PROBE_MS, async () => {
      const pts = pointsOf.get(s)!;
      const op = await client.create(pts[pn % pts.length], pn++);
      op.shard ??= s;
      probes.get(s)!.push(op);
    }),
  );
  const tLoad = Date.now();
  say(
    `load: ${RATE} order lives/s through APIRouter, probers on shards ${moving.join(', ')} every ${PROBE_MS} ms`,
  );
  await sleep(WARMUP_MS);

  // --- the planned moves ---
  interface MoveRow {
    n: number;
    shard: number;
    from: string;
    to: string;
    outcome: MoveReport['outcome'];
    reason?: string;
    windowMs: number | null;
    steps: MoveReport['steps'];
    /** runMove's call → return, wall clock */
    startedAt: number;
    endedAt: number;
    clientBlockMs: number | null;
    clientMaxMs: number | null;
    baselineMs: number | null;
    clientErrors: number;
    /** the slowest request for the shard while the move ran (ms relative to the move's start) */
    slowest?: { kind: string; result: string; error?: string; ms: number; startMs: number; zone?: string };
  }
  const rows: MoveRow[] = [];
  const tMoves = Date.now();
  for (let i = 0; i < MOVES; i++) {
    const shard = moving[Math.floor(i / 2) % moving.length];
    const owner = (await gzs.table()).table.shards[shard].zone;
    const to = owner === A ? B : A;
    const startedAt = Date.now();
    let r: MoveReport | undefined;
    let reason: string | undefined;
    try {
      r = await runMove({ topology: t, gzs, shards: [shard], to });
    } catch (err) {
      reason = errorMessage(err);
    }
    const endedAt = Date.now();
    rows.push({
      n: i + 1,
      shard,
      from: owner,
      to,
      outcome: r?.outcome ?? 'unknown',
      reason: r?.reason ?? reason,
      windowMs: r?.windowMs ?? null,
      steps: r?.steps ?? { lockMs: null, positionMs: null, catchUpMs: null, switchMs: null },
      startedAt,
      endedAt,
      clientBlockMs: null,
      clientMaxMs: null,
      baselineMs: null,
      clientErrors: 0,
    });
    say(
      `move ${i + 1}/${MOVES}: shard ${shard} ${owner} -> ${to}: ${r?.outcome ?? 'failed'} window ${r?.windowMs ?? '-'} ms (lock ${r?.steps.lockMs ?? '-'}, position ${r?.steps.positionMs ?? '-'}, catch-up ${r?.steps.catchUpMs ?? '-'}, switch ${r?.steps.switchMs ?? '-'})${r?.reason || reason ? `: ${r?.reason ?? reason}` : ''}`,
    );
    await sleep(GAP_MS);
  }
  const tMovesEnd = Date.now();
  // let the requests of the last move answer before judging the client side
  await sleep(Math.min(GAP_MS, 500));

  for (const row of rows) {
    const all = [...probes.get(row.shard)!, ...ops.filter((o) => o.shard === row.shard)];
    const before = all.filter((o) => endOf(o) >= row.startedAt - 1000 && endOf(o) < row.startedAt);
    // a request that was waiting at any moment of the move: it started before the move ended and answered after it began
    const during = all.filter((o) => o.startedAt <= row.endedAt && endOf(o) >= row.startedAt);
    row.baselineMs = pct(
      before.filter((o) => o.result === 'ok').map((o) => o.ms),
      0.5,
    );
    row.clientMaxMs = max(during.map((o) => o.ms));
    row.clientBlockMs =
      row.clientMaxMs === null
        ? null
        : Math.max(0, Math.round((row.clientMaxMs - (row.baselineMs ?? 0)) * 10) / 10);
    row.clientErrors = during.filter((o) => o.result !== 'ok').length;
    const worst = during.reduce<Op | undefined>((w, o) => (!w || o.ms > w.ms ? o : w), undefined);
    if (worst)
      row.slowest = {
        kind: worst.kind,
        result: worst.result,
        error: worst.error,
        ms: Math.round(worst.ms),
        startMs: worst.startedAt - row.startedAt,
        zone: worst.zone,
      };
  }
  const movePhaseOps = [...ops, ...[...probes.values()].flat()].filter(
    (o) => o.startedAt >= tLoad && o.startedAt < tMovesEnd,
  );
  const switched = rows.filter((r) => r.outcome === 'switched');
  const windows = switched.map((r) => r.windowMs!);
  const clientBlocks = rows.flatMap((r) => (r.clientBlockMs === null ? [] : [r.clientBlockMs]));
  const step = (k: keyof MoveReport['steps']) =>
    pct(
      switched.map((r) => r.steps[k]!),
      0.99,
    );
  // the window less its four timed steps: the journal writes between them ('acked', 'caught-up')
  const untimed = switched.map(
    (r) => r.windowMs! - r.steps.lockMs! - r.steps.positionMs! - r.steps.catchUpMs! - r.steps.switchMs!,
  );
  const moveResult = {
    moves: rows.length,
    switched: switched.length,
    rollbacks: rows.filter((r) => r.outcome === 'rolled-back').length,
    otherOutcomes: rows.filter((r) => r.outcome !== 'switched' && r.outcome !== 'rolled-back').length,
    blockP50Ms: pct(windows, 0.5),
    blockP99Ms: pct(windows, 0.99),
    blockMaxMs: max(windows),
    clientBlockP50Ms: pct(clientBlocks, 0.5),
    clientBlockP99Ms: pct(clientBlocks, 0.99),
    clientBlockMaxMs: max(clientBlocks),
    clientErrors: tally(movePhaseOps),
    stepP99Ms: {
      lock: step('lockMs'),
      position: step('positionMs'),
      catchUp: step('catchUpMs'),
      switch: step('switchMs'),
    },
    stepP50Ms: {
      lock: pct(
        switched.map((r) => r.steps.lockMs!),
        0.5,
      ),
      position: pct(
        switched.map((r) => r.steps.positionMs!),
        0.5,
      ),
      catchUp: pct(
        switched.map((r) => r.steps.catchUpMs!),
        0.5,
      ),
      switch: pct(
        switched.map((r) => r.steps.switchMs!),
        0.5,
      ),
    },
    /** window minus the four steps: the 'acked' and 'caught-up' journal writes in between */
    untimedP50Ms: pct(untimed, 0.5),
    untimedP99Ms: pct(untimed, 0.99),
    windowsMs: rows.map((r) => r.windowMs),
    clientBlocksMs: rows.map((r) => r.clientBlockMs),
    requests: movePhaseOps.length,
    requestsOk: movePhaseOps.filter((o) => o.result === 'ok').length,
    requestsPerSec: Math.round((movePhaseOps.length / (tMovesEnd - tLoad)) * 1000),
    movePhaseMs: tMovesEnd - tMoves,
    /** moves whose client-side block exceeds the driver's window by more than 50 ms */
    slowMoves: rows
      .filter((r) => r.clientBlockMs !== null && r.clientBlockMs > (r.windowMs ?? 0) + 50)
      .map((r) => ({
        n: r.n,
        shard: r.shard,
        windowMs: r.windowMs,
        clientBlockMs: r.clientBlockMs,
        slowest: r.slowest,
      })),
    /** requests that failed while a move ran (the shard's), with when they started */
    moveErrors: rows.flatMap((r) =>
      [...probes.get(r.shard)!, ...ops.filter((o) => o.shard === r.shard)]
        .filter((o) => o.result !== 'ok' && o.startedAt <= r.endedAt && endOf(o) >= r.startedAt)
        .map((o) => ({
          n: r.n,
          kind: o.kind,
          error: o.error,
          ms: Math.round(o.ms),
          startMs: o.startedAt - r.startedAt,
        })),
    ),
    failedMoves: rows
      .filter((r) => r.outcome !== 'switched')
      .map((r) => ({ n: r.n, shard: r.shard, outcome: r.outcome, reason: r.reason })),
  };

  // --- the failover: SIGKILL of every process of A, then runFailover --when-down ---
  let failover: Record<string, unknown> = { skipped: true };
  let rtoMs: number | null = null;
  if (!values['no-failover']) {
    const state = readState(stateDir, t.name, t.file);
    const victims = Object.values(state.processes).filter((p) => p.zone === A);
    const host = hostFor('local');
    const rtoOps: Op[] = [];
    let firstOk: Op | undefined;
    const pts = pointsOf.get(rtoShard)!;
    let wn = 2_000_000;
    const stopWriter = steady(20, async () => {
      if (firstOk) return;
      const op = await client.create(pts[wn % pts.length], wn++);
      rtoOps.push(op);
      if (op.result === 'ok' && op.zone === B && (!firstOk || endOf(op) < endOf(firstOk))) firstOk = op;
    });
    await sleep(300);
    const atKill = rtoOps.filter((o) => o.result === 'ok' && o.zone === A).length;
    say(
      `SIGKILL of ${victims.map((v) => `${v.name} (${v.pid})`).join(', ')}; writer on shard ${rtoShard} (ok at ${A} so far: ${atKill})`,
    );
    const tKill = Date.now();
    const pKill = performance.now();
    await Promise.all(victims.map((v) => host.signal(v.pid, 'SIGKILL').catch(() => undefined)));
    const events: SwitchEvent[] = [];
    const fo = await runFailover({
      topology: t,
      gzs,
      from: A,
      to: B,
      whenDownMs: 30_000,
      downAfterMs: DOWN_AFTER_MS,
      onProgress: (e) => {
        events.push(e);
        say(`failover [${e.atMs} ms] ${e.step}${e.detail ? `: ${e.detail}` : ''}`);
      },
    }).catch((err: unknown) => ({ outcome: 'error' as const, reason: errorMessage(err) }));
    const foStartedMs = 0; // runFailover began right at the kill; its events count from there
    const foEndMs = Math.round(performance.now() - pKill);
    for (let i = 0; i < 200 && !firstOk; i++) await sleep(50); // up to 10 s more for the first write
    stopWriter();
    const stillAlive = [];
    for (const v of victims) if (await host.isAlive(v.pid, v.startToken)) stillAlive.push(v.name);
    const switchEv = events.find((e) => e.step === 'switch');
    rtoMs = firstOk ? Math.round(endOf(firstOk) - tKill) : null;
    const verdictMs = 'waitedForVerdictMs' in fo ? fo.waitedForVerdictMs : null;
    failover = {
      outcome: fo.outcome,
      reason: fo.reason,
      from: A,
      to: B,
      shards: 'shards' in fo ? fo.shards.length : null,
      epoch: 'epoch' in fo ? fo.epoch : null,
      killed: victims.map((v) => v.name),
      stillAlive,
      downAfterMs: DOWN_AFTER_MS,
      rtoSplitMs: {
        verdict: verdictMs === null ? null : verdictMs - foStartedMs,
        switch: switchEv && verdictMs !== null ? switchEv.atMs - verdictMs : null,
        firstWrite: switchEv && rtoMs !== null ? rtoMs - switchEv.atMs : null,
      },
      ackMs: 'ackMs' in fo ? fo.ackMs : null,
      notAcked: 'notAcked' in fo ? fo.notAcked : null,
      failoverReturnedMs: foEndMs,
      verdict: 'verdict' in fo ? fo.verdict.reason : null,
      writer: {
        shard: rtoShard,
        requests: rtoOps.length,
        ok: rtoOps.filter((o) => o.result === 'ok').length,
        errors: tally(rtoOps.filter((o) => o.startedAt >= tKill)),
      },
      workloadErrors: tally(ops.filter((o) => o.startedAt >= tKill)),
    };
  }

  stopLoad();
  for (const s of stopProbes) s();
  stopping = true;
  await Promise.race([Promise.allSettled([...inflight]), sleep(12_000)]);
  await client.close().catch(() => undefined);

  const { windowsMs, clientBlocksMs, failedMoves, slowMoves, moveErrors, ...headline } = moveResult;
  process.stdout.write(
    `${JSON.stringify({
      ...headline,
      rtoMs,
      workloadRatePerSec: RATE,
      probeEveryMs: PROBE_MS,
      gapMs: GAP_MS,
      movedShards: moving,
      windowsMs,
      clientBlocksMs,
      failedMoves,
      slowMoves,
      moveErrors,
      failover,
      upMs,
      /** the machine's 1/5/15-minute load averages at the start and the end, and its cores */
      machine: {
        cores: cpus().length,
        loadBefore,
        loadAfter: loadavg().map((x) => Math.round(x * 100) / 100),
      },
      targets: {
        blockP99Ms: '< 150',
        blockMaxMs: '< 500',
        rollbacks: '= 0',
        rtoMs: '< 10000',
        met: {
          blockP99Ms: headline.blockP99Ms !== null && headline.blockP99Ms < 150,
          blockMaxMs: headline.blockMaxMs !== null && headline.blockMaxMs < 500,
          rollbacks: headline.rollbacks === 0 && headline.otherOutcomes === 0,
          rtoMs: rtoMs !== null && rtoMs < 10_000,
        },
      },
    })}\n`,
  );
} catch (err) {
  say(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
