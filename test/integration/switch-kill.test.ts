/**
 * Kill tests of `ezctl shard move` (DESIGN §6): the driver SIGKILLed at each of its steps in turn,
 * and GZS SIGKILLed around each durable write of the switch journal in turn, on one cluster from
 * `ezctl up` with 30 ms links. Writers insert orders for the moving shard through BOTH eZones'
 * DALs the whole time. After `ezctl shard move --resume` (or GZS's janitor on its own) each test
 * asserts: the journal entry is closed (rolled back before the point of no return, done after
 * it), the shard is serving (unlocked) at A or at B — B exactly when the switch was durable —,
 * every acknowledged write is in both eZones once DRC drained, no write was accepted by the
 * eZone that did not own the shard, and writes go on at the owner. One shard per test.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SwitchEntry } from '../../src/gzs/index.js';
import { OrderIdGenerator } from '../../src/routing/index.js';
import { type DalCluster, shardsOf, startDalCluster } from '../helpers/dal.js';
import { drainDirections, ensureBuilt } from '../helpers/drc.js';
import { tempDir } from '../helpers/run-dir.js';

const A = 'ez-bj';
const B = 'ez-sh';

let cluster: DalCluster;
let free: number[];
let failpointsFile: string;
const previousFile = process.env.EZ_FAILPOINTS_FILE;

beforeAll(async () => {
  await ensureBuilt();
  // GZS (started by the launcher with this process's environment) reads its failpoints here
  failpointsFile = join(tempDir('failpoints'), 'failpoints');
  writeFileSync(failpointsFile, '');
  process.env.EZ_FAILPOINTS_FILE = failpointsFile;
  cluster = await startDalCluster(); // on links
  free = [...shardsOf(cluster, A).mine];
}, 180_000);

afterAll(async () => {
  await cluster?.close();
  if (previousFile === undefined) delete process.env.EZ_FAILPOINTS_FILE;
  else process.env.EZ_FAILPOINTS_FILE = previousFile;
  if (failpointsFile) rmSync(failpointsFile, { force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Arm GZS's failpoints (re-read when the file's mtime changes); '' disarms. */
function armGzs(list: string): void {
  writeFileSync(failpointsFile, list);
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `${what}: not within ${ms} ms${last ? ` (last error: ${(last as Error).message})` : ''}`,
      );
    await sleep(50);
  }
}

interface Ack {
  id: string;
  zone: string;
  at: number;
}

/** Two writers (one per eZone's DAL) inserting orders for `shard`, tagged by eZone. */
async function startWriters(shard: number, tag: string) {
  const gen = new OrderIdGenerator(shard);
  const acked: Ack[] = [];
  const refused = new Map<string, number>();
  let stop = false;
  const conns: [string, Connection][] = [
    [A, await cluster.connect(A)],
    [B, await cluster.connect(B)],
  ];
  const loops = conns.map(async ([zone, c]) => {
    while (!stop) {
      const id = gen.next();
      try {
        await c.query(
          `INSERT INTO orders (id, shard_id, user_id, merchant_id, state, amount_cents, created_at, updated_at) VALUES (${id}, ${shard}, 'u', '${tag}-${zone}', 'placed', 1, NOW(6), NOW(6))`,
        );
        acked.push({ id, zone, at: Date.now() });
        await sleep(2);
      } catch (err) {
        const code = ((err as { sqlMessage?: string }).sqlMessage ?? 'other').split(' ')[0];
        refused.set(`${zone} ${code}`, (refused.get(`${zone} ${code}`) ?? 0) + 1);
        await sleep(10);
      }
    }
  });
  return {
    acked,
    refused,
    stop: async () => {
      stop = true;
      await Promise.all(loops);
    },
  };
}

/** The binlog file and offset where A's transaction `seq` (A's own GTID domain) ends. */
async function endOfGtid(zone: string, seq: string): Promise<{ file: string; pos: number }> {
  const id = cluster.serverId(zone);
  const want = `GTID ${id}-${id}-${seq}`;
  const c = await cluster.root(zone);
  const [logs] = await c.query('SHOW BINARY LOGS');
  for (const l of (logs as { Log_name: string }[]).reverse()) {
    const [events] = await c.query('SHOW BINLOG EVENTS IN ?', [l.Log_name]);
    const list = events as { Event_type: string; Info: string; End_log_pos: number }[];
    const i = list.findIndex((e) => e.Event_type === 'Gtid' && new RegExp(`${want}\\b`).test(e.Info));
    if (i >= 0) {
      const x = list
        .slice(i)
        .find((e) => e.Event_type === 'Xid' || (e.Event_type === 'Query' && /COMMIT/.test(e.Info)));
      return { file: l.Log_name, pos: Number((x ?? list[i]).End_log_pos) };
    }
  }
  throw new Error(`${want} not found in ${zone}'s binlogs`);
}

async function gzsAlive(): Promise<boolean> {
  return (await cluster.status()).processes.find((p) => p.name === 'gzs')?.alive ?? false;
}

type End = 'resume' | 'janitor';

interface Scenario {
  /** what kills what */
  kill: { ezctl: string } | { gzs: string };
  /** where the shard must end: A (rolled back) or B (switched, then closed) */
  endsAt: typeof A | typeof B;
  /** who ends the entry: `ezctl shard move --resume`, or GZS's janitor on its own */
  end: End;
  /** the last step the journal holds from the killed run (proves where it died) */
  lastStep: string;
}

const DRIVER_STEPS = new Set(['lock', 'acked', 'positioned', 'caught-up', 'switch', 'done']);

/** What the killed run did, for the report. */
const seen: string[] = [];
let line = '';

/** Laps since its start, appended to the report's line. */
function stopwatch(): (what: string) => void {
  const t0 = performance.now();
  return (what) => {
    line += `; ${what} +${Math.round(performance.now() - t0)} ms`;
  };
}

async function killedMove(name: string, sc: Scenario): Promise<void> {
  const shard = free.shift()!;
  expect(shard, 'a shard of ez-bj for this test').toBeDefined();
  expect((await cluster.gzs.table()).table.shards[shard]).toMatchObject({ zone: A, state: 'serving' });
  const known = new Set((await cluster.gzs.switches()).entries.map((e) => e.id));
  const tag = `kill-${shard}`;
  const w = await startWriters(shard, tag);
  try {
    await until('acknowledged writes at A before the move', async () =>
      w.acked.filter((a) => a.zone === A).length >= 10 ? true : undefined,
    );

    // the move, killed where the scenario says
    const args = ['shard', 'move', '--shard', String(shard), '--to', B, '--lease', '1s', '--json'];
    const t0 = Date.now();
    let r: Awaited<ReturnType<DalCluster['ezctlWith']>>;
    if ('ezctl' in sc.kill) {
      r = await cluster.ezctlWith(
        { env: { EZ_FAILPOINTS: `${sc.kill.ezctl}=kill` }, timeoutMs: 30_000 },
        ...args,
      );
      expect(r.signal, `ezctl died by SIGKILL at ${sc.kill.ezctl}\n${r.stderr}`).toBe('SIGKILL');
      expect(r.stderr).toContain(`failpoint ${sc.kill.ezctl}: SIGKILL`);
    } else {
      armGzs(`${sc.kill.gzs}=kill`);
      try {
        r = await cluster.ezctlWith({ timeoutMs: 30_000 }, ...args);
      } finally {
        armGzs('');
      }
      expect(r.timedOut, `the driver did not hang\n${r.stderr}`).toBe(false);
      await until('GZS dead by its failpoint', async () => ((await gzsAlive()) ? undefined : true), 5000);
    }
    const took = Date.now() - t0;
    let outcome = '';
    try {
      const rep = JSON.parse(r.stdout) as { outcome?: string; reason?: string; error?: { code: string } };
      outcome = rep.outcome ?? rep.error?.code ?? '?';
      if (rep.reason) outcome += ` (${rep.reason.slice(0, 160)})`;
    } catch {
      outcome = r.stdout ? 'no JSON' : 'no output';
    }
    line = `${name}: driver exit ${r.exitCode ?? '-'} signal ${r.signal ?? '-'} after ${took} ms; ${outcome}`;
    const lap = stopwatch();

    if ('gzs' in sc.kill) {
      // GZS again, on its store: the launcher's `up` starts what is not running
      const st = await cluster.up();
      lap('GZS restarted');
      expect(st.processes.find((p) => p.name === 'gzs')?.alive).toBe(true);
    }

    // the entry this move began (none when GZS died before the durable begin)
    const entryOf = async (): Promise<SwitchEntry | undefined> =>
      (await cluster.gzs.switches()).entries.find((e) => !known.has(e.id) && e.shards.includes(shard));
    const mine = await entryOf();
    expect(mine, 'the journal holds the move').toBeDefined();

    if (sc.end === 'resume') {
      const res = await cluster.ezctl('shard', 'move', '--resume', '--json');
      expect(res.exitCode, `${res.stderr}\n${res.stdout}`).toBe(0);
      const how = (JSON.parse(res.stdout) as { entries: { id: string; how: string }[] }).entries.find(
        (e) => e.id === mine!.id,
      )?.how;
      // right after a GZS restart its janitor waits one lease: the resume is what ends the entry
      if ('gzs' in sc.kill && mine!.state !== 'done') expect(how).toMatch(/by this resume/);
      lap(`resume: ${how ?? 'nothing open'}`);
    }
    const closed = await until(
      `the journal entry ${mine!.id} closed`,
      async () => {
        const e = await entryOf();
        return e && (e.state === 'done' || e.state === 'rolled-back') ? e : undefined;
      },
      15_000,
    );
    expect(
      mine!.steps.filter((s) => DRIVER_STEPS.has(s.step) && !/by GZS/.test(s.detail ?? '')).at(-1)?.step,
      `where the run died (steps: ${mine!.steps.map((s) => s.step).join(', ')})`,
    ).toBe(sc.lastStep);
    expect(closed.state).toBe(sc.endsAt === A ? 'rolled-back' : 'done');
    if (sc.end === 'janitor' && closed.state === 'rolled-back') expect(closed.rollback?.by).toMatch(/^gzs\//);
    const { table } = await cluster.gzs.table();
    expect(table.shards[shard], 'the shard is served, unlocked, by one eZone').toMatchObject({
      zone: sc.endsAt,
      state: 'serving',
    });
    lap(`closed (${closed.state})`);
    await cluster.waitDalEpoch(A, table.epoch, 15_000);
    lap(`DAL ${A} at ${table.epoch}`);
    await cluster.waitDalEpoch(B, table.epoch, 15_000);
    // writes go on at the owner
    lap(`DAL ${B} at ${table.epoch}`);
    const tEnd = Date.now();
    await until(`writes acknowledged at ${sc.endsAt} after the end`, async () =>
      w.acked.some((a) => a.zone === sc.endsAt && a.at > tEnd) ? true : undefined,
    );
    await sleep(200);
  } finally {
    await w.stop();
  }

  const t = performance.now();
  // nothing acknowledged lost: every acknowledged order in both eZones once DRC drained
  await drainDirections(
    [
      [A, B],
      [B, A],
    ],
    (z) => cluster.rootOptions(z),
    (z) => cluster.serverId(z),
    30_000,
  );
  for (const zone of [A, B]) {
    const c = await cluster.root(zone);
    const [rows] = await c.query('SELECT CAST(id AS CHAR) AS id FROM orders WHERE shard_id = ?', [shard]);
    const have = new Set((rows as { id: string }[]).map((x) => x.id));
    expect(
      w.acked.filter((a) => !have.has(a.id)).map((a) => `${a.id}@${a.zone}`),
      `acknowledged orders missing in ${zone}`,
    ).toEqual([]);
  }

  seen.push(`${line}; drained in ${Math.round(performance.now() - t)} ms`);

  // single writer: no write accepted by the eZone that did not own the shard
  const entry = (await cluster.gzs.switches()).entries.find(
    (e) => !known.has(e.id) && e.shards.includes(shard),
  );
  if (sc.endsAt === A) {
    expect(
      w.acked.filter((a) => a.zone === B),
      'no write for S acknowledged at B: it never owned S',
    ).toEqual([]);
  } else {
    const switchAt = entry!.steps.find((s) => s.step === 'switch')!.at;
    expect(
      w.acked.filter((a) => a.zone === B && a.at < switchAt),
      'no write for S acknowledged at B before the switch',
    ).toEqual([]);
    expect(w.acked.filter((a) => a.zone === B).length).toBeGreaterThan(0);
    // A's binlog after the position the move noted: not one insert A's writer made
    const statements = await cluster.statementsSince(A, await endOfGtid(A, entry!.position!.seq));
    expect(statements.filter((s) => s.includes(`${tag}-${A}`))).toEqual([]);
  }
  expect(w.acked.filter((a) => a.zone === A).length).toBeGreaterThan(10);
}

describe('ezctl shard move: ezctl SIGKILLed at each step', () => {
  const cases: [string, End, typeof A | typeof B, string][] = [
    ['switch.after-lock', 'resume', A, 'lock'],
    ['switch.after-acked', 'janitor', A, 'acked'],
    ['switch.after-position', 'resume', A, 'positioned'],
    ['switch.after-caught-up', 'janitor', A, 'caught-up'],
    ['switch.after-commit', 'janitor', B, 'switch'],
  ];
  for (const [fp, end, at, lastStep] of cases)
    it(`killed at ${fp}: ${end === 'resume' ? '--resume' : "GZS's janitor"} ${at === A ? 'rolls it back (S at A)' : 'closes it (S at B)'}, nothing lost`, async () => {
      await killedMove(fp, { kill: { ezctl: fp }, endsAt: at, end, lastStep });
    }, 90_000);
});

describe('ezctl shard move: GZS SIGKILLed around each durable journal write', () => {
  const cases: [string, End, typeof A | typeof B, string][] = [
    ['gzs.switch.begin.after', 'resume', A, 'lock'],
    ['gzs.switch.step-acked.after', 'janitor', A, 'acked'],
    ['gzs.switch.step-positioned.after', 'resume', A, 'positioned'],
    ['gzs.switch.step-caught-up.after', 'resume', A, 'caught-up'],
    // killed before the durable write of the switch: it never happened, so it rolls back
    ['gzs.switch.commit.before', 'resume', A, 'caught-up'],
    ['gzs.switch.commit.after', 'resume', B, 'switch'],
    ['gzs.switch.done.after', 'resume', B, 'done'],
  ];
  for (const [fp, end, at, lastStep] of cases)
    it(`killed at ${fp}: restarted, ${end === 'resume' ? '--resume' : 'its janitor'} ends at ${at === A ? 'A (rolled back)' : 'B (switched)'}, nothing lost`, async () => {
      await killedMove(fp, { kill: { gzs: fp }, endsAt: at, end, lastStep });
    }, 90_000);

  it('what each killed driver did', () => {
    console.log(`kill tests, the driver:\n  ${seen.join('\n  ')}`);
  });
});
