// DRC's last-writer-wins resolution on hand-made groups of transactions.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Conflict, resolveGroup } from '../../src/drc/resolve.js';
import type { RowChange, SourceTxn, TableSpec } from '../../src/drc/types.js';
import {
  atKey,
  compareVersions,
  formatVersion,
  type Row,
  type Version,
} from '../../src/shared/row-version.js';

const T: TableSpec = { name: 't', kind: 'global', primaryKey: ['id'], updatedAt: 'updated_at' };
const TABLES = new Map([[T.name, T]]);

const row = (id: number, at: number, origin: number, val = `v${at}`): Row => ({
  id,
  val,
  updated_at: String(at),
  drc_origin: origin,
});
const txn = (origin: number, seq: number, changes: RowChange[]): SourceTxn => ({
  gtid: `${origin}-${origin}-${seq}`,
  domainId: origin,
  serverId: origin,
  seqNo: String(seq),
  tsMs: 0,
  changes,
  heartbeatsUs: [],
  position: { gtidPos: '', lastGtid: '', file: '', pos: 0 },
});
const target = (rows: Row[] = [], tombs: [string, Version][] = []) => ({
  current: new Map([[T.name, new Map(rows.map((r) => [String(r.id), r]))]]),
  tombstones: new Map([[T.name, new Map(tombs)]]),
});

describe('versions', () => {
  it('compares updated_at first, then the origin server id', () => {
    expect(
      compareVersions(
        { at: '2026-01-01 00:00:00.000002', origin: 1 },
        { at: '2026-01-01 00:00:00.000001', origin: 9 },
      ),
    ).toBe(1);
    expect(compareVersions({ at: '5', origin: 2 }, { at: '5', origin: 1 })).toBe(1);
    expect(compareVersions({ at: '5', origin: 1 }, { at: '5', origin: 1 })).toBe(0);
    // integer µs compare by value, not by text
    expect(compareVersions({ at: '10', origin: 1 }, { at: '9', origin: 1 })).toBe(1);
    expect(atKey(42)).toBe(atKey('42'));
  });
});

describe('resolveGroup: single decisions', () => {
  it('applies an update whose before image is the current row, without a conflict', () => {
    const cur = row(1, 10, 2);
    const out = resolveGroup(
      [txn(1, 1, [{ table: 't', op: 'update', before: cur, after: row(1, 11, 1) }])],
      TABLES,
      target([cur]),
    );
    expect(out.upserts.get('t')?.get('1')?.updated_at).toBe('11');
    expect(out.conflicts).toEqual([]);
  });

  it('breaks a tie on updated_at by the origin id, the same way on both sides', () => {
    const base = row(1, 10, 1);
    const fromA = row(1, 20, 1, 'a');
    const fromB = row(1, 20, 2, 'b');
    // at A (holding its own fromA) the update from B arrives; at B (holding fromB) the one from A
    const atA = resolveGroup(
      [txn(2, 1, [{ table: 't', op: 'update', before: base, after: fromB }])],
      TABLES,
      target([fromA]),
    );
    const atB = resolveGroup(
      [txn(1, 1, [{ table: 't', op: 'update', before: base, after: fromA }])],
      TABLES,
      target([fromB]),
    );
    expect(atA.upserts.get('t')?.get('1')?.val).toBe('b'); // origin 2 > 1 wins
    expect(atB.upserts.get('t')?.size ?? 0).toBe(0); // B keeps its own
    expect(atA.conflicts.map((c) => [c.reason, c.winner])).toEqual([['diverged', 'incoming']]);
    expect(atB.conflicts.map((c) => [c.reason, c.winner])).toEqual([['older', 'current']]);
  });

  it('does not resurrect a deleted row with an older update, but does with a newer one', () => {
    const old = resolveGroup(
      [txn(1, 1, [{ table: 't', op: 'update', before: row(1, 5, 1), after: row(1, 8, 1) }])],
      TABLES,
      target([], [['1', { at: '9', origin: 2 }]]),
    );
    expect(old.upserts.size).toBe(0);
    expect(old.conflicts[0].reason).toBe('deleted');
    const newer = resolveGroup(
      [txn(1, 1, [{ table: 't', op: 'update', before: row(1, 5, 1), after: row(1, 12, 1) }])],
      TABLES,
      target([], [['1', { at: '9', origin: 2 }]]),
    );
    expect(newer.upserts.get('t')?.get('1')?.updated_at).toBe('12');
    expect(newer.conflicts[0].reason).toBe('update-vs-delete');
  });

  it('does not let a delete of an older version erase a newer row', () => {
    const out = resolveGroup(
      [txn(1, 1, [{ table: 't', op: 'delete', before: row(1, 5, 1), after: null }])],
      TABLES,
      target([row(1, 7, 2)]),
    );
    expect(out.deletes.size).toBe(0);
    expect(out.conflicts[0]).toMatchObject({ reason: 'delete-vs-newer', winner: 'current' });
    expect(out.tombstones.get('t')?.get('1')?.version).toEqual({ at: '5', origin: 1 });
  });

  it('keeps per-row order inside a group and writes each row once', () => {
    const r0 = row(1, 1, 1);
    const r1 = row(1, 2, 1);
    const r2 = row(1, 3, 1);
    const out = resolveGroup(
      [
        txn(1, 1, [{ table: 't', op: 'insert', before: null, after: r0 }]),
        txn(1, 2, [{ table: 't', op: 'update', before: r0, after: r1 }]),
        txn(1, 3, [{ table: 't', op: 'update', before: r1, after: r2 }]),
        txn(1, 4, [{ table: 't', op: 'insert', before: null, after: row(2, 1, 1) }]),
        txn(1, 5, [{ table: 't', op: 'delete', before: row(2, 1, 1), after: null }]),
      ],
      TABLES,
      target(),
    );
    expect(out.upserts.get('t')?.get('1')).toBe(r2);
    expect(out.upserts.get('t')?.has('2')).toBe(false);
    expect(out.deletes.size).toBe(0); // row 2 never existed in the target
    expect(out.tombstones.get('t')?.get('2')?.version).toEqual({ at: '1', origin: 1 });
    expect(out.conflicts).toEqual([]);
    expect(out.applied).toBe(5);
  });

  it('counts a change the target already has as a duplicate, not a write', () => {
    const r = row(1, 3, 1);
    const out = resolveGroup(
      [txn(1, 1, [{ table: 't', op: 'insert', before: null, after: r }])],
      TABLES,
      target([r]),
    );
    expect(out.duplicates).toBe(1);
    expect(out.upserts.size).toBe(0);
  });
});

/**
 * A model of N eZones: local writes follow the triggers (a write's version is above the one it
 * replaces, and above the key's tombstone), each eZone's changes reach every other eZone directly,
 * in order, in groups, interleaved at random with local writes. After everything is delivered
 * every eZone must hold the same rows, and every version that silently disappeared must be in a
 * conflict ledger.
 */
interface ZoneModel {
  id: number;
  rows: Map<string, Row>;
  tombs: Map<string, Version>;
  log: SourceTxn[];
  ledger: Conflict[];
}

const vOf = (r: Row): Version => ({ at: String(r.updated_at), origin: Number(r.drc_origin) });

function localWrite(z: ZoneModel, id: number, at: number, del: boolean, seq: number, history: History): void {
  const pk = String(id);
  const cur = z.rows.get(pk) ?? null;
  let change: RowChange;
  if (del) {
    if (!cur) return;
    z.rows.delete(pk);
    const t = z.tombs.get(pk);
    if (!t || compareVersions(vOf(cur), t) > 0) z.tombs.set(pk, vOf(cur));
    change = { table: 't', op: 'delete', before: cur, after: null };
    history.based.add(`${pk}/${formatVersion(vOf(cur))}`);
  } else {
    let v: Version = { at: String(at), origin: z.id };
    const floor = cur ? vOf(cur) : (z.tombs.get(pk) ?? null);
    if (floor && compareVersions(v, floor) <= 0) v = { at: String(Number(floor.at) + 1), origin: z.id };
    const after = row(id, Number(v.at), z.id, `z${z.id}s${seq}`);
    z.rows.set(pk, after);
    change = { table: 't', op: cur ? 'update' : 'insert', before: cur, after };
    history.written.add(`${pk}/${formatVersion(v)}`);
    if (cur) history.based.add(`${pk}/${formatVersion(vOf(cur))}`);
  }
  z.log.push(txn(z.id, z.log.length + 1, [change]));
}

function deliver(dst: ZoneModel, group: SourceTxn[]): void {
  const out = resolveGroup(group, TABLES, {
    current: new Map([[T.name, new Map(dst.rows)]]),
    tombstones: new Map([[T.name, new Map(dst.tombs)]]),
  });
  for (const [pk] of out.deletes.get('t') ?? []) dst.rows.delete(pk);
  for (const [pk, r] of out.upserts.get('t') ?? []) dst.rows.set(pk, r);
  for (const [pk, t] of out.tombstones.get('t') ?? []) dst.tombs.set(pk, t.version);
  dst.ledger.push(...out.conflicts);
}

interface History {
  written: Set<string>;
  based: Set<string>;
}

type Step =
  | { kind: 'write'; zone: number; id: number; at: number; del: boolean }
  | { kind: 'deliver'; from: number; to: number; n: number };

function simulate(zones: number, steps: Step[]) {
  const model: ZoneModel[] = Array.from({ length: zones }, (_, i) => ({
    id: i + 1,
    rows: new Map(),
    tombs: new Map(),
    log: [],
    ledger: [],
  }));
  const cursor = new Map<string, number>();
  const history: History = { written: new Set(), based: new Set() };
  const send = (from: number, to: number, n: number) => {
    const key = `${from}>${to}`;
    const at = cursor.get(key) ?? 0;
    const group = model[from].log.slice(at, at + n);
    if (group.length === 0) return;
    cursor.set(key, at + group.length);
    deliver(model[to], group);
  };
  steps.forEach((s, i) => {
    if (s.kind === 'write') localWrite(model[s.zone % zones], s.id, s.at, s.del, i, history);
    else if (s.from % zones !== s.to % zones) send(s.from % zones, s.to % zones, s.n);
  });
  for (let from = 0; from < zones; from++)
    for (let to = 0; to < zones; to++) if (from !== to) send(from, to, Number.MAX_SAFE_INTEGER);
  return { model, history };
}

const step = fc.oneof(
  fc.record({
    kind: fc.constant('write' as const),
    zone: fc.nat(5),
    id: fc.integer({ min: 1, max: 4 }),
    // few distinct timestamps: ties between eZones are common, clocks run "backwards" too
    at: fc.integer({ min: 1, max: 6 }),
    del: fc.boolean().map((b) => b && Math.random() < 0.5),
  }),
  fc.record({
    kind: fc.constant('deliver' as const),
    from: fc.nat(5),
    to: fc.nat(5),
    n: fc.integer({ min: 1, max: 4 }),
  }),
);

describe('resolveGroup: convergence model', () => {
  for (const zones of [2, 3]) {
    it(`${zones} eZones: same rows everywhere after full delivery; every lost version in a ledger`, () => {
      fc.assert(
        fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => {
          const { model, history } = simulate(zones, steps);
          const snapshot = (z: ZoneModel) =>
            JSON.stringify([...z.rows.entries()].sort((a, b) => a[0].localeCompare(b[0])));
          for (const z of model.slice(1)) expect(snapshot(z)).toBe(snapshot(model[0]));
          // a version that is not final and no later write was based on vanished through LWW
          const final = new Set([...model[0].rows.values()].map((r) => `${r.id}/${formatVersion(vOf(r))}`));
          const losers = new Set(
            model.flatMap((z) =>
              z.ledger.map(
                (c) => `${c.pk}/${c.winner === 'incoming' ? c.currentVersion : c.incomingVersion}`,
              ),
            ),
          );
          for (const v of history.written) {
            if (final.has(v) || history.based.has(v)) continue;
            expect(losers.has(v), `lost version ${v} is in no ledger`).toBe(true);
          }
        }),
        { numRuns: 400 },
      );
    });
  }
});
