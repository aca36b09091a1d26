import { describe, expect, it } from 'vitest';
import {
  availability,
  type CheckInput,
  type CheckResult,
  cacheCoherence,
  checkAll,
  convergence,
  errorsByCode,
  latencyQuantiles,
  locking,
  nemesisWindows,
  noLostOrder,
  type Ownership,
  orderLocksFromHistory,
  ownershipFromView,
  routingCorrectness,
  type StoredOrder,
  singleWriter,
  validLifecycle,
} from '../../harness/checkers/index.js';
import type { ClientEvent, ClientF, HistoryEvent, NemesisEvent } from '../../harness/history/events.js';
import type { HistoryEntry } from '../../src/gzs/index.js';
import { ownershipView } from '../../src/gzs/ownership.js';
import { encodeOrderId } from '../../src/routing/index.js';

// ---- hand-made histories --------------------------------------------------------------------

const BJ = 'ez-bj';
const SH = 'ez-sh';
const ZONES = [BJ, SH];
/** shard 1 lives in ez-bj, shard 2 in ez-sh */
const O1 = encodeOrderId({ timestampMs: Date.UTC(2026, 5, 1), shard: 1, sequence: 1 });
const O2 = encodeOrderId({ timestampMs: Date.UTC(2026, 5, 1), shard: 2, sequence: 1 });

/** A history written by hand: `op` appends an invoke and its completion (or leaves it open). */
class Hist {
  readonly events: HistoryEvent[] = [];
  private t = 0;
  private nextProcess = 0;

  private add<E extends HistoryEvent>(e: Omit<E, 'index' | 'time' | 'wall'>): E {
    this.t += 10;
    const full = { index: this.events.length, time: this.t, wall: 1_780_000_000_000 + this.t, ...e } as E;
    this.events.push(full);
    return full;
  }

  /** One client operation; returns [invoke line, completion line]. */
  op(
    f: ClientF,
    orderId: string | undefined,
    type: 'ok' | 'fail' | 'info' | 'open',
    answer: Partial<ClientEvent> = {},
  ): [number, number] {
    const process = this.nextProcess++;
    const inv = this.add<ClientEvent>({ process, type: 'invoke', f, value: orderId ? { orderId } : {} });
    if (type === 'open') return [inv.index, -1];
    const done = this.add<ClientEvent>({
      process,
      type,
      f,
      value: inv.value,
      ...(orderId ? { orderId } : {}),
      ms: 10,
      ...answer,
    });
    return [inv.index, done.index];
  }

  /** an ok answer from `zone` at `epoch` naming the shard of the order */
  okAt(f: ClientF, orderId: string, state: string, zone: string, epoch = 1): number {
    const shard = orderId === O1 ? 1 : 2;
    return this.op(f, orderId, 'ok', { zone, shard, epoch, state, status: 200 })[1];
  }

  nemesis(f: NemesisEvent['f'], nemesis: string, result?: Record<string, unknown>): void {
    this.add<NemesisEvent>({ process: 'nemesis', type: 'invoke', f, nemesis, value: { zone: BJ } });
    this.add<NemesisEvent>({
      process: 'nemesis',
      type: 'ok',
      f,
      nemesis,
      value: { zone: BJ },
      ...(result ? { result } : {}),
    });
  }
}

const row = (id: string, state: string, version: number): StoredOrder => ({
  id,
  state,
  version,
  updatedAt: 't',
});
const both = (...rs: StoredOrder[]): CheckInput['rows'] => ({
  [BJ]: new Map(rs.map((r) => [r.id, r])),
  [SH]: new Map(rs.map((r) => [r.id, r])),
});

/** Ownership from a list of tables by epoch: owners and locked shards at each epoch from `from`. */
function ownership(
  tables: { epoch: number; owners: Record<number, string>; locked?: number[]; orderLocks?: string[] }[],
): Ownership {
  const at = (epoch: number) => [...tables].reverse().find((t) => t.epoch <= epoch);
  return {
    ownerAtEpoch: (shard, epoch) => at(epoch)?.owners[shard],
    lockedAtEpoch: (shard, epoch) => {
      const t = at(epoch);
      return t ? (t.locked ?? []).includes(shard) : undefined;
    },
    orderLockedAtEpoch: (id, epoch) => {
      const t = at(epoch);
      return t ? (t.orderLocks ?? []).includes(id) : undefined;
    },
  };
}
const STEADY = ownership([{ epoch: 1, owners: { 1: BJ, 2: SH } }]);

const input = (h: Hist, more: Partial<CheckInput> = {}): CheckInput => ({
  events: h.events,
  zones: ZONES,
  rows: both(),
  unread: {},
  digests: {},
  ownership: STEADY,
  illegalWrites: [],
  ...more,
});

/** The shared expectations of a failing check: fail, names the order and the history lines. */
function expectFail(r: CheckResult, orderId: string, lines: number[]): void {
  expect(r.verdict).toBe('fail');
  expect(r.ok).toBe(false);
  expect(r.violations.join('\n')).toContain(orderId);
  for (const l of lines) expect(r.violations.join('\n')).toMatch(new RegExp(`lines? [0-9, ]*\\b${l}\\b`));
  expect(r.evidence?.some((e) => e.orderId === orderId && lines.every((l) => e.lines.includes(l)))).toBe(
    true,
  );
}

/** O1 created and accepted in ez-bj; O2 created in ez-sh. */
function lifeHistory(): { h: Hist; createO1: number; acceptO1: number; createO2: number } {
  const h = new Hist();
  const createO1 = h.okAt('create', O1, 'placed', BJ);
  const createO2 = h.okAt('create', O2, 'placed', SH);
  h.op('accept', O2, 'fail', { error: 'EZ_LOCKED', status: 503 });
  const acceptO1 = h.okAt('accept', O1, 'accepted', BJ);
  h.op('read', O1, 'ok', { zone: BJ, shard: 1, epoch: 1, state: 'accepted' });
  return { h, createO1, acceptO1, createO2 };
}
const lifeRows = () => both(row(O1, 'accepted', 2), row(O2, 'placed', 1));

/** a history with nothing acknowledged */
function nothing(): Hist {
  const h = new Hist();
  h.op('create', undefined, 'info', { error: 'EZ_CLIENT_ECONNREFUSED' });
  h.op('create', undefined, 'fail', { error: 'EZ_ZONE_UNAVAILABLE', status: 503 });
  return h;
}

// ---- the checkers ---------------------------------------------------------------------------

describe('noLostOrder (§7.1)', () => {
  it('ok when every acknowledged order is in every eZone, at least as far as its last ok step', () => {
    const { h } = lifeHistory();
    expect(noLostOrder(input(h, { rows: lifeRows() }))).toMatchObject({ verdict: 'ok', checked: 2 });
    // further along than acknowledged (an info step that happened) is not lost
    expect(noLostOrder(input(h, { rows: both(row(O1, 'cancelled', 3), row(O2, 'placed', 1)) })).verdict).toBe(
      'ok',
    );
  });

  it('fails naming the order and the create line when a row is missing in one eZone', () => {
    const { h, createO1 } = lifeHistory();
    const rows = lifeRows();
    rows[SH].delete(O1);
    const r = noLostOrder(input(h, { rows }));
    expectFail(r, O1, [createO1]);
    expect(r.violations[0]).toContain(SH);
  });

  it('fails when a row went back behind its last acknowledged state', () => {
    const { h, createO1, acceptO1 } = lifeHistory();
    const rows = both(row(O1, 'placed', 1), row(O2, 'placed', 1));
    expectFail(noLostOrder(input(h, { rows })), O1, [createO1, acceptO1]);
  });

  it('unknown when no creation was acknowledged, or an eZone could not be read', () => {
    expect(noLostOrder(input(nothing()))).toMatchObject({ verdict: 'unknown', checked: 0 });
    const { h } = lifeHistory();
    const rows = lifeRows();
    delete rows[SH];
    const r = noLostOrder(input(h, { rows, unread: { [SH]: 'ECONNREFUSED' } }));
    expect(r).toMatchObject({ verdict: 'unknown', ok: false });
    expect(r.reason).toContain(SH);
  });
});

describe('convergence (§7.2)', () => {
  const digest = (sha: string, rows: [string, string][]) => ({
    rows: rows.length,
    sha,
    rowHashes: new Map(rows),
  });

  it('ok when every table has the same digest everywhere', () => {
    const d = { orders: { [BJ]: digest('aa', [[O1, 'h1']]), [SH]: digest('aa', [[O1, 'h1']]) } };
    expect(convergence(input(new Hist(), { digests: d }))).toMatchObject({ verdict: 'ok', checked: 1 });
  });

  it('fails naming the differing order and its write lines', () => {
    const { h, createO1, acceptO1 } = lifeHistory();
    const d = { orders: { [BJ]: digest('aa', [[O1, 'h1']]), [SH]: digest('bb', [[O1, 'h2']]) } };
    const r = convergence(input(h, { digests: d }));
    expect(r.verdict).toBe('fail');
    expect(r.violations[0]).toContain(O1);
    expect(r.evidence?.[0]).toMatchObject({ table: 'orders', orderId: O1 });
    expect(r.evidence?.[0].lines).toEqual(expect.arrayContaining([createO1, acceptO1]));
  });

  it('unknown with no table, or one eZone only', () => {
    expect(convergence(input(new Hist())).verdict).toBe('unknown');
    const d = { orders: { [BJ]: digest('aa', []) } };
    expect(convergence(input(new Hist(), { digests: d, unread: { [SH]: 'down' } })).verdict).toBe('unknown');
  });
});

describe('singleWriter (§7.3)', () => {
  it('ok when every write came from its shard owner and each step was taken once', () => {
    const { h } = lifeHistory();
    expect(singleWriter(input(h))).toMatchObject({ verdict: 'ok' });
  });

  it('fails when one step of an order was accepted in two eZones', () => {
    const h = new Hist();
    h.okAt('create', O1, 'placed', BJ);
    h.okAt('accept', O1, 'accepted', BJ);
    h.okAt('cancel', O1, 'cancelled', SH); // cancel is legal from accepted: a path, no finding
    expect(singleWriter(input(h, { ownership: undefined })).violations).toEqual([]);
    const h2 = new Hist();
    h2.okAt('create', O1, 'placed', BJ);
    const x = h2.okAt('accept', O1, 'accepted', BJ);
    const y = h2.okAt('accept', O1, 'accepted', SH); // the step out of placed, a second time elsewhere
    const r = singleWriter(
      input(h2, { illegalWrites: [{ origin: SH, table: 'orders', pk: O1, writtenAt: 't' }] }),
    );
    expectFail(r, O1, [x, y]);
    expect(r.violations[0]).toContain('step out of placed');
  });

  it('fails when a non-owner accepted a write the illegal-write report does not name; excused when it does', () => {
    const h = new Hist();
    const c = h.okAt('create', O1, 'placed', SH); // shard 1 belongs to ez-bj at epoch 1
    const r = singleWriter(input(h));
    expectFail(r, O1, [c]);
    const excused = singleWriter(
      input(h, { illegalWrites: [{ origin: SH, table: 'orders', pk: O1, writtenAt: '2026-06-01' }] }),
    );
    expect(excused.verdict).toBe('ok');
    // no report at all: cannot be excused nor condemned
    expect(singleWriter(input(h, { illegalWrites: undefined })).verdict).toBe('unknown');
  });

  it('unknown when nothing was acknowledged or the ownership history reaches none of it', () => {
    expect(singleWriter(input(nothing())).verdict).toBe('unknown');
    const h = new Hist();
    h.op('create', O1, 'ok', { zone: BJ, shard: 1, epoch: 1, state: 'placed' });
    const r = singleWriter(input(h, { ownership: ownership([{ epoch: 5, owners: { 1: BJ } }]) }));
    expect(r).toMatchObject({ verdict: 'unknown', unjudged: 1 });
  });
});

describe('validLifecycle (§7.4)', () => {
  it('ok when steps are a path and rows hold the last acknowledged state', () => {
    const { h } = lifeHistory();
    expect(validLifecycle(input(h, { rows: lifeRows() }))).toMatchObject({ verdict: 'ok', checked: 2 });
    // an info step may or may not have happened: both rows are allowed
    h.op('pickup', O1, 'info', { error: 'EZ_CLIENT_ETIMEDOUT' });
    expect(
      validLifecycle(input(h, { rows: both(row(O1, 'picked_up', 3), row(O2, 'placed', 1)) })).verdict,
    ).toBe('ok');
  });

  it('fails naming the order and lines when an acknowledged step is not a path', () => {
    const h = new Hist();
    const c = h.okAt('create', O1, 'placed', BJ);
    const d = h.okAt('deliver', O1, 'delivered', BJ); // deliver from placed
    expectFail(validLifecycle(input(h, { rows: both(row(O1, 'delivered', 2)) })), O1, [c, d]);
  });

  it('fails when a terminal order changes, and when a row is not what the history allows', () => {
    const h = new Hist();
    h.okAt('create', O1, 'placed', BJ);
    const cancel = h.okAt('cancel', O1, 'cancelled', BJ);
    const read = h.op('read', O1, 'ok', { zone: BJ, shard: 1, epoch: 1, state: 'accepted' })[1];
    const r = validLifecycle(input(h, { rows: both(row(O1, 'cancelled', 2)) }));
    expectFail(r, O1, [cancel, read]);
    expect(r.violations[0]).toContain('terminal cancelled');

    const { h: h2, acceptO1 } = lifeHistory();
    const twice = validLifecycle(input(h2, { rows: both(row(O1, 'accepted', 3), row(O2, 'placed', 1)) }));
    expectFail(twice, O1, [acceptO1]);
    expect(twice.violations[0]).toContain('applied twice');
    // a refused step (fail) must not have happened
    const refused = validLifecycle(input(h2, { rows: both(row(O1, 'accepted', 2), row(O2, 'accepted', 2)) }));
    expect(refused.verdict).toBe('fail');
    expect(refused.evidence?.[0].orderId).toBe(O2);
  });

  it('unknown when no creation was acknowledged', () => {
    expect(validLifecycle(input(nothing()))).toMatchObject({ verdict: 'unknown', checked: 0 });
  });
});

describe('routingCorrectness (§7.5)', () => {
  it('ok when every ok answer came from its shard owner at its epoch (reads too)', () => {
    const { h } = lifeHistory();
    expect(routingCorrectness(input(h))).toMatchObject({ verdict: 'ok', checked: 4 });
  });

  it('fails naming the order and the answer line when a non-owner served it', () => {
    const h = new Hist();
    h.okAt('create', O1, 'placed', BJ);
    const moved = ownership([
      { epoch: 1, owners: { 1: BJ, 2: SH } },
      { epoch: 3, owners: { 1: SH, 2: SH } },
    ]);
    const stale = h.okAt('accept', O1, 'accepted', BJ, 3); // ez-bj served at epoch 3: owner is ez-sh
    const r = routingCorrectness(input(h, { ownership: moved }));
    expectFail(r, O1, [stale]);
    expect(r.checked).toBe(2);
  });

  it('counts unjudged answers; unknown when nothing could be judged', () => {
    const h = new Hist();
    h.okAt('create', O1, 'placed', BJ, 1);
    const r = routingCorrectness(input(h, { ownership: ownership([{ epoch: 9, owners: { 1: BJ } }]) }));
    expect(r).toMatchObject({ verdict: 'unknown', unjudged: 1, checked: 0 });
    expect(routingCorrectness(input(nothing())).verdict).toBe('unknown');
  });
});

describe('locking (§7.6)', () => {
  const switching = ownership([
    { epoch: 1, owners: { 1: BJ, 2: SH } },
    { epoch: 2, owners: { 1: BJ, 2: SH }, locked: [1] },
    { epoch: 3, owners: { 1: SH, 2: SH }, orderLocks: [O1] },
    { epoch: 4, owners: { 1: SH, 2: SH } },
  ]);

  it('ok when no write was acknowledged at an epoch that had its shard or order locked', () => {
    const h = new Hist();
    h.okAt('create', O1, 'placed', BJ, 1);
    h.op('accept', O1, 'fail', { error: 'EZ_LOCKED', zone: BJ, shard: 1, epoch: 2 });
    h.okAt('accept', O1, 'accepted', SH, 4);
    expect(locking(input(h, { ownership: switching }))).toMatchObject({ verdict: 'ok', checked: 2 });
  });

  it('fails naming the order and line for a write acknowledged on a locked shard or order', () => {
    const h = new Hist();
    h.okAt('create', O1, 'placed', BJ, 1);
    const underLock = h.okAt('accept', O1, 'accepted', BJ, 2);
    expectFail(locking(input(h, { ownership: switching })), O1, [underLock]);
    const h2 = new Hist();
    h2.okAt('create', O1, 'placed', BJ, 1);
    const orderLocked = h2.okAt('accept', O1, 'accepted', SH, 3);
    const r = locking(input(h2, { ownership: switching }));
    expectFail(r, O1, [orderLocked]);
    expect(r.violations[0]).toContain('order was locked');
  });

  it('unknown without lock history, or when nothing was acknowledged', () => {
    const h = new Hist();
    h.okAt('create', O1, 'placed', BJ, 1);
    expect(locking(input(h, { ownership: { ownerAtEpoch: () => BJ } }))).toMatchObject({
      verdict: 'unknown',
      unjudged: 1,
    });
    expect(locking(input(nothing(), { ownership: switching })).verdict).toBe('unknown');
  });
});

describe('cacheCoherence (§7.7)', () => {
  it('ok when every cached entry equals its row (a miss is not a difference)', () => {
    const cache = [
      {
        zone: BJ,
        orderId: O1,
        cached: { version: 2, state: 'accepted' },
        row: { version: 2, state: 'accepted' },
      },
      { zone: SH, orderId: O1, cached: null, row: { version: 2, state: 'accepted' } },
    ];
    expect(cacheCoherence(input(new Hist(), { cache }))).toMatchObject({ verdict: 'ok', checked: 1 });
  });

  it('fails naming the order and its last write line when an entry is stale', () => {
    const { h, acceptO1 } = lifeHistory();
    const cache = [
      {
        zone: SH,
        orderId: O1,
        cached: { version: 1, state: 'placed' },
        row: { version: 2, state: 'accepted' },
      },
    ];
    const r = cacheCoherence(input(h, { cache }));
    expectFail(r, O1, [acceptO1]);
    expect(r.violations[0]).toContain(SH);
    // the same version with another state differs too
    const sameVersion = cacheCoherence(
      input(h, {
        cache: [
          {
            zone: BJ,
            orderId: O1,
            cached: { version: 2, state: 'cancelled' },
            row: { version: 2, state: 'accepted' },
          },
        ],
      }),
    );
    expectFail(sameVersion, O1, [acceptO1]);
    // an entry for a row that does not exist is stale too
    const ghost = cacheCoherence(
      input(h, { cache: [{ zone: BJ, orderId: O2, cached: { version: 1, state: 'placed' }, row: null }] }),
    );
    expect(ghost.verdict).toBe('fail');
  });

  it('unknown when no entry was sampled, or every sample was a miss', () => {
    expect(cacheCoherence(input(new Hist())).verdict).toBe('unknown');
    const misses = [{ zone: BJ, orderId: O1, cached: null, row: null }];
    expect(cacheCoherence(input(new Hist(), { cache: misses })).verdict).toBe('unknown');
  });
});

describe('checkAll', () => {
  it('runs every checker; fail if any fails, unknown if any is unknown', () => {
    const { h } = lifeHistory();
    const all = checkAll(input(h, { rows: lifeRows() }));
    expect(Object.keys(all.checks)).toEqual([
      'noLostOrder',
      'convergence',
      'singleWriter',
      'validLifecycle',
      'routingCorrectness',
      'locking',
      'cacheCoherence',
    ]);
    expect(all.checks.noLostOrder.verdict).toBe('ok');
    expect(all.verdict).toBe('unknown'); // no digests, no cache samples
    const rows = lifeRows();
    rows[BJ].delete(O2);
    expect(checkAll(input(h, { rows })).verdict).toBe('fail');
  });

  it('a malformed history leaves the history checkers unknown, with why', () => {
    const h = new Hist();
    h.events.push({ index: 0, time: 1, wall: 1, process: 7, type: 'ok', f: 'create', value: {} });
    const all = checkAll(input(h));
    expect(all.checks.noLostOrder).toMatchObject({ verdict: 'unknown' });
    expect(all.checks.noLostOrder.reason).toContain('malformed history');
  });
});

// ---- figures --------------------------------------------------------------------------------

describe('figures', () => {
  it('errors by code, availability per eZone and second, latency quantiles', () => {
    const { h } = lifeHistory();
    h.op('create', undefined, 'info', { error: 'EZ_CLIENT_ETIMEDOUT' });
    h.op('accept', O2, 'open');
    expect(errorsByCode(h.events)).toEqual({
      EZ_LOCKED: { fail: 1, info: 0, total: 1 },
      EZ_CLIENT_ETIMEDOUT: { fail: 0, info: 1, total: 1 },
      EZ_OPEN: { fail: 0, info: 1, total: 1 },
    });
    const av = availability(h.events, { bucketMs: 1000 });
    expect(av[BJ]).toEqual([{ from: 0, ok: 2, fail: 0, info: 0, availability: 1 }]);
    expect(av[SH][0]).toMatchObject({ ok: 1 });
    expect(av['?'][0]).toMatchObject({ ok: 0, fail: 1, info: 2, availability: 0 });
    const lat = latencyQuantiles(h.events);
    expect(lat.all).toMatchObject({ count: 4, p50: 10, max: 10 });
    expect(lat.create.count).toBe(2);
  });

  it('nemesis windows pair start with stop and carry what was measured', () => {
    const h = new Hist();
    h.okAt('create', O1, 'placed', BJ);
    h.nemesis('start', 'kill-zone');
    h.op('accept', O1, 'fail', { error: 'EZ_ZONE_UNAVAILABLE' });
    h.nemesis('action', 'failover', { rtoMs: 1234 });
    h.okAt('accept', O1, 'accepted', SH, 2);
    h.nemesis('stop', 'kill-zone', { restartedMs: 800 });
    h.nemesis('action', 'move', { windowMs: 321 });
    const w = nemesisWindows(h.events);
    expect(w.map((x) => [x.nemesis, x.kind])).toEqual([
      ['kill-zone', 'fault'],
      ['failover', 'action'],
      ['move', 'action'],
    ]);
    expect(w[0]).toMatchObject({ writes: { ok: 1, fail: 1, info: 0 }, result: { restartedMs: 800 } });
    expect(w[0].lines).toHaveLength(4);
    expect(w[0].longestOkGapMs).toBeGreaterThan(0);
    expect(w[1].rtoMs).toBe(1234);
    expect(w[2].blockWindowMs).toBe(321);
  });
});

// ---- ownership from GZS ---------------------------------------------------------------------

describe('ownership from GZS', () => {
  it('ownershipFromView answers owners and shard locks by epoch, undefined before the log', () => {
    const o = ownershipFromView(
      ownershipView({
        epoch: 4,
        generation: 'g',
        now: 5000,
        since: null,
        retainedFrom: { epoch: 2, at: 1000 },
        base: { epoch: 2, at: 1000, owners: { '1': BJ, '2': SH }, locked: [] },
        events: [
          { epoch: 3, at: 2000, shard: 1, op: 'lock' },
          { epoch: 4, at: 2500, shard: 1, from: BJ, to: SH },
        ],
      }),
    );
    expect(o.ownerAtEpoch(1, 2)).toBe(BJ);
    expect(o.lockedAtEpoch?.(1, 3)).toBe(true);
    expect(o.ownerAtEpoch(1, 4)).toBe(SH);
    expect(o.ownerAtEpoch(1, 1)).toBeUndefined();
    expect(o.ownerAt?.(1, 2200)).toBe(BJ);
    // the locking checker on it: a write acknowledged at epoch 3 by ez-bj broke the lock
    const h = new Hist();
    h.okAt('create', O1, 'placed', BJ, 2);
    const bad = h.okAt('accept', O1, 'accepted', BJ, 3);
    expectFail(locking(input(h, { ownership: o })), O1, [bad]);
  });

  it('orderLocksFromHistory replays order-lock rules, releases and clears; unknown when trimmed', () => {
    const before = Date.UTC(2026, 6, 1);
    const other = encodeOrderId({ timestampMs: Date.UTC(2026, 5, 2), shard: 1, sequence: 7 });
    const newer = encodeOrderId({ timestampMs: Date.UTC(2026, 6, 2), shard: 1, sequence: 1 });
    const history: HistoryEntry[] = [
      { epoch: 2, at: 1, changes: [{ op: 'owner', shard: 1, zone: SH, from: BJ }] },
      {
        epoch: 3,
        at: 2,
        changes: [{ op: 'order-lock-rule', shard: 1, zone: BJ, createdBeforeMs: before, reason: 'failover' }],
      },
      { epoch: 4, at: 3, changes: [{ op: 'order-lock-release', orderId: O1, reason: 'ops', from: 'rule' }] },
      {
        epoch: 5,
        at: 4,
        changes: [{ op: 'order-lock-rule-clear', zone: BJ, shards: [1], reason: 'drained' }],
      },
    ];
    const locked = orderLocksFromHistory(history);
    expect([1, 2, 3, 4, 5].map((e) => locked(O1, e))).toEqual([false, false, true, false, false]);
    expect([3, 4, 5].map((e) => locked(other, e))).toEqual([true, true, false]);
    expect(locked(newer, 3)).toBe(false); // new orders proceed at once
    expect(orderLocksFromHistory(history.slice(2))(O1, 4)).toBeUndefined();
  });
});
