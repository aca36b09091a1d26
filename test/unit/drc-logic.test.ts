// DRC's pure logic: names, ports, reader ids, GTID positions, DDL detection, planning.
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { versionKey } from '../../src/cache/cache-aside.js';
import { compileKeyPattern, keyColumns } from '../../src/cache/key-pattern.js';
import { literal } from '../../src/drc/applier.js';
import { formatGtidPos, parseGtidPos } from '../../src/drc/binlog.js';
import { answerOwnership } from '../../src/drc/gzs-ownership.js';
import { checkDirection, directions, drcInstanceName, drcPort, readerServerId } from '../../src/drc/names.js';
import { judgeWrites } from '../../src/drc/ownership.js';
import { ddlConcerns } from '../../src/drc/replicator.js';
import {
  installScript,
  missingPieces,
  parseColumnTypes,
  triggerNames,
  verifyQueries,
} from '../../src/drc/schema.js';
import type { SourceTxn, TableSpec } from '../../src/drc/types.js';
import { planContext } from '../../src/launch/cluster.js';
import { drc } from '../../src/launch/kinds/drc.js';
import type { OwnershipAnswer } from '../../src/shared/gzs-protocol.js';
import { compareVersions, updatedAtToUs } from '../../src/shared/row-version.js';
import { linkListenPort, loadTopology } from '../../src/topology/index.js';
import { fixturesDir } from '../../src/util/paths.js';

const two = loadTopology(join(fixturesDir(), 'topologies', 'two-zones.yaml'));
const three = loadTopology(join(fixturesDir(), 'topologies', 'three-zones.yaml'));
const ORDERS: TableSpec = {
  name: 'orders',
  kind: 'sharded',
  shardColumn: 'shard_id',
  primaryKey: ['id'],
  updatedAt: 'updated_at',
};
const USERS: TableSpec = { name: 'users', kind: 'global', primaryKey: ['id'], updatedAt: 'updated_at' };
const TABLES = new Map([
  ['orders', ORDERS],
  ['users', USERS],
]);

describe('directions and ports', () => {
  it('has one replicator per ordered pair, each on its target eZone’s drc ports', () => {
    expect(directions(two)).toEqual([
      { from: 'ez-bj', to: 'ez-sh' },
      { from: 'ez-sh', to: 'ez-bj' },
    ]);
    expect(directions(three)).toHaveLength(6);
    expect(drcPort(two, 'ez-bj', 'ez-sh')).toBe(two.deployment.zones['ez-sh'].ports.drc);
    // into ez-bj from ez-sh and ez-gz: drc and drc+1 (the ports the topology loader reserves)
    const base = three.deployment.zones['ez-bj'].ports.drc;
    expect([drcPort(three, 'ez-sh', 'ez-bj'), drcPort(three, 'ez-gz', 'ez-bj')]).toEqual([base, base + 1]);
    const all = directions(three).map((d) => drcPort(three, d.from, d.to));
    expect(new Set(all).size).toBe(6);
    expect(drcInstanceName('ez-bj', 'ez-sh')).toBe('drc@ez-sh<-ez-bj');
  });

  it('rejects unknown or equal eZones with a usage error', () => {
    expect(() => checkDirection(two, 'ez-xx', 'ez-sh')).toThrow(
      /--from: unknown eZone "ez-xx" \(known: ez-bj, ez-sh\)/,
    );
    expect(() => checkDirection(two, 'ez-bj', 'ez-bj')).toThrow(/both ez-bj/);
  });

  it('derives stable, distinct replica server ids far from eZone ids', () => {
    const a = readerServerId('drc:ez-bj->ez-sh');
    expect(readerServerId('drc:ez-bj->ez-sh')).toBe(a);
    expect(readerServerId('drc:ez-sh->ez-bj')).not.toBe(a);
    expect(a).toBeGreaterThanOrEqual(2 ** 31);
    expect(a).toBeLessThan(2 ** 32);
  });

  it("reads each direction's source through its link B->A:mysql on links, directly with --no-links", () => {
    const specsOf = (on: boolean) =>
      drc.instances(planContext(two, '/tmp/ezt-plan', { on, url: 'http://127.0.0.1:1', external: false }));
    const sh = two.deployment.zones['ez-sh'].ports.mysql;
    const onLinks = specsOf(true).find((s) => s.name === 'drc@ez-bj<-ez-sh')!;
    expect(onLinks.params.source).toBe(`127.0.0.1:${linkListenPort(two, 'ez-bj', 'ez-sh', 'mysql')}`);
    expect(onLinks.params.via).toBe('ez-bj->ez-sh:mysql');
    const direct = specsOf(false).find((s) => s.name === 'drc@ez-bj<-ez-sh')!;
    expect(direct.params.source).toBe(`127.0.0.1:${sh}`);
    expect(direct.params.via).toBeNull();
  });
});

describe('GTID positions', () => {
  it('parses and prints every domain, one entry per domain', () => {
    const m = parseGtidPos('2-2-17, 1-1-42');
    expect(m.get(1)).toBe('1-1-42');
    expect(formatGtidPos(m)).toBe('1-1-42,2-2-17');
    expect(parseGtidPos('').size).toBe(0);
    expect(() => parseGtidPos('1-1')).toThrow(/bad GTID position entry "1-1"/);
  });
});

describe('DDL detection', () => {
  it('stops only for statements on a replicated table of the database', () => {
    const t = ['orders', 'users'];
    expect(
      ddlConcerns({ query: 'ALTER TABLE orders ADD COLUMN x INT', schema: 'ezshop' }, 'ezshop', t),
    ).toEqual(['orders']);
    expect(
      ddlConcerns({ query: 'alter table `ezshop`.`users` drop index x', schema: 'other' }, 'ezshop', t),
    ).toEqual(['users']);
    expect(
      ddlConcerns({ query: 'CREATE TABLE orders_archive (id INT)', schema: 'ezshop' }, 'ezshop', t),
    ).toEqual([]);
    expect(ddlConcerns({ query: 'ALTER TABLE orders ADD x INT', schema: 'other' }, 'ezshop', t)).toEqual([]);
    expect(ddlConcerns({ query: 'TRUNCATE orders', schema: 'ezshop' }, 'ezshop', t)).toEqual(['orders']);
  });
});

describe('SQL literals', () => {
  it('keeps integers unquoted (exact BIGINT comparisons) and quotes the rest', () => {
    expect(literal(42, true)).toBe('42');
    expect(literal('7290412234567680001', true)).toBe('7290412234567680001');
    expect(literal('7290412234567680001', false)).toBe("'7290412234567680001'");
    expect(literal("it's", true)).toBe("'it\\'s'");
    expect(literal(null, true)).toBe('NULL');
    expect(literal(Buffer.from('ab'), false)).toBe("X'6162'");
    expect(literal({ a: 1 }, false)).toBe('\'{\\"a\\":1}\'');
    expect(literal('1; DROP TABLE x', true)).toBe("'1; DROP TABLE x'");
  });
});

describe('cache keys and versions', () => {
  it('fills key patterns from the row', () => {
    const k = compileKeyPattern('order:{id}');
    expect(k({ id: '7290412234567680001' })).toBe('order:7290412234567680001');
    expect(k({ id: null })).toBeNull();
    expect(compileKeyPattern('m:{merchant_id}:o:{id}')({ merchant_id: 'm-1', id: 5 })).toBe('m:m-1:o:5');
    expect(keyColumns('m:{merchant_id}:o:{id}')).toEqual(['merchant_id', 'id']);
  });

  it('orders versionKey text exactly like compareVersions', () => {
    const at = fc.oneof(
      fc.integer({ min: 0, max: 10_000 }).map((us) => {
        const d = new Date(Date.UTC(2026, 0, 1, 0, 0, Math.floor(us / 1000)));
        return `${d.toISOString().slice(0, 19).replace('T', ' ')}.${String(us % 1000).padStart(6, '0')}`;
      }),
    );
    const ver = fc.record({ at, origin: fc.integer({ min: 0, max: 4_000_000_000 }) });
    fc.assert(
      fc.property(ver, ver, (a, b) => {
        const ka = versionKey(a);
        const kb = versionKey(b);
        expect(Math.sign(compareVersions(a, b))).toBe(ka < kb ? -1 : ka > kb ? 1 : 0);
      }),
    );
    const int = fc.record({ at: fc.bigInt({ min: 0n, max: 2n ** 62n }).map(String), origin: fc.nat(9) });
    fc.assert(
      fc.property(int, int, (a, b) => {
        const ka = versionKey(a);
        const kb = versionKey(b);
        expect(Math.sign(compareVersions(a, b))).toBe(ka < kb ? -1 : ka > kb ? 1 : 0);
      }),
    );
  });

  it('reads updated_at as microseconds', () => {
    expect(updatedAtToUs('1700000000123456')).toBe(1700000000123456);
    expect(updatedAtToUs('2026-01-01 00:00:01.000002') - updatedAtToUs('2026-01-01 00:00:00.5')).toBe(
      500_002,
    );
    expect(updatedAtToUs('garbage')).toBeNaN();
  });
});

const txnOf = (serverId: number, changes: SourceTxn['changes']): SourceTxn => ({
  gtid: `${serverId}-${serverId}-9`,
  domainId: serverId,
  serverId,
  seqNo: '9',
  tsMs: 1_800_000_000_000,
  changes,
  heartbeatsUs: [],
  position: { gtidPos: '', lastGtid: '', file: '', pos: 0 },
});

describe("illegal writes (ownership from GZS's log)", () => {
  // shards 0 → ez-bj, 1 and 2 → ez-sh at epoch 1 (t0); epoch 5 (t0 + 10 s) moves shard 0 to ez-sh
  const t0 = 1_800_000_000_000;
  const answer: OwnershipAnswer = {
    epoch: 5,
    generation: 'g',
    now: t0 + 20_000,
    since: null,
    retainedFrom: { epoch: 1, at: t0 },
    base: { epoch: 1, at: t0, owners: { '0': 'ez-bj', '1': 'ez-sh', '2': 'ez-sh' }, locked: [] },
    events: [{ epoch: 5, at: t0 + 10_000, shard: 0, from: 'ez-bj', to: 'ez-sh' }],
  };
  const own = answerOwnership(answer, { zone: 'ez-bj', epoch: 5 });
  /** DATETIME(6) text of a time, as NOW(6) writes it on this machine */
  const at = (ms: number): string => {
    const d = new Date(ms);
    const p = (n: number, w = 2) => String(n).padStart(w, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}000`;
  };
  const write = (serverId: number, shard: number, ms: number, op: 'insert' | 'update' = 'update') =>
    txnOf(serverId, [
      {
        table: 'orders',
        op,
        before: op === 'insert' ? null : { id: 1, shard_id: shard },
        after: { id: 1, shard_id: shard, updated_at: at(ms) },
      },
    ]);

  it("judges a write by its row's own time against the owner then: before the move and after it", () => {
    // before the move: ez-bj owns shard 0
    expect(judgeWrites(write(1, 0, t0 + 5_000), 'ez-bj', TABLES, own)).toEqual({ illegal: [], unjudged: 0 });
    const early = judgeWrites(write(2, 0, t0 + 5_000), 'ez-sh', TABLES, own).illegal;
    expect(early).toHaveLength(1);
    expect(early[0]).toMatchObject({ shard: 0, origin: 'ez-sh', owner: 'ez-bj', epoch: 1 });
    // after it: the new owner's writes are legal, the old owner's are reported with the move's epoch
    expect(judgeWrites(write(2, 0, t0 + 15_000), 'ez-sh', TABLES, own).illegal).toEqual([]);
    const late = judgeWrites(write(1, 0, t0 + 15_000), 'ez-bj', TABLES, own).illegal;
    expect(late).toHaveLength(1);
    expect(late[0]).toMatchObject({
      table: 'orders',
      pk: '1',
      shard: 0,
      origin: 'ez-bj',
      owner: 'ez-sh',
      epoch: 5,
    });
    expect(late[0].evidence).toMatchObject({ rule: 'shard-owned-by-another-ezone', judgedBy: 'updated_at' });
    expect(late[0].evidence.provisional).toBeUndefined();
    // a millisecond either side of the move
    expect(judgeWrites(write(1, 0, t0 + 9_999), 'ez-bj', TABLES, own).illegal).toEqual([]);
    expect(judgeWrites(write(1, 0, t0 + 10_001), 'ez-bj', TABLES, own).illegal).toHaveLength(1);
  });

  it('lets the previous owner write during the grace window (clock skew), not after', () => {
    const skew = answerOwnership(answer, { zone: 'ez-bj', epoch: 5 }, 1000);
    expect(judgeWrites(write(1, 0, t0 + 10_500), 'ez-bj', TABLES, skew).illegal).toEqual([]);
    expect(judgeWrites(write(1, 0, t0 + 11_500), 'ez-bj', TABLES, skew).illegal).toHaveLength(1);
  });

  it('judges a delete by the binlog second: legal if the origin owned the shard at some moment of it', () => {
    const del = (serverId: number, tsMs: number) => ({
      ...txnOf(serverId, [
        { table: 'orders', op: 'delete', before: { id: 1, shard_id: 0, updated_at: at(t0) }, after: null },
      ]),
      tsMs,
    });
    expect(judgeWrites(del(1, t0 + 9_500), 'ez-bj', TABLES, own).illegal).toEqual([]);
    expect(judgeWrites(del(2, t0 + 9_500), 'ez-sh', TABLES, own).illegal).toEqual([]);
    const late = judgeWrites(del(1, t0 + 10_200), 'ez-bj', TABLES, own).illegal;
    expect(late[0]).toMatchObject({
      owner: 'ez-sh',
      evidence: { judgedBy: 'binlog event time (1 s resolution)' },
    });
    const early = judgeWrites(del(2, t0 + 5_000), 'ez-sh', TABLES, own).illegal[0];
    expect(early).toMatchObject({ owner: 'ez-bj', epoch: 1 });
    expect(early.evidence.provisional).toBeUndefined();
  });

  it('is provisional past what the log covers, and does not judge before what GZS retains', () => {
    const future = judgeWrites(write(1, 0, t0 + 25_000), 'ez-bj', TABLES, own).illegal;
    expect(future[0]).toMatchObject({ owner: 'ez-sh', evidence: { provisional: true } });
    expect(judgeWrites(write(1, 0, t0 - 1_000), 'ez-sh', TABLES, own)).toEqual({ illegal: [], unjudged: 1 });
  });

  it('checks both shards of a row that moved, global tables against the master, unknown shards', () => {
    const moved = judgeWrites(
      txnOf(1, [
        {
          table: 'orders',
          op: 'update',
          before: { id: 1, shard_id: 0, updated_at: at(t0 + 1_000) },
          after: { id: 1, shard_id: 1, updated_at: at(t0 + 1_000) },
        },
      ]),
      'ez-bj',
      TABLES,
      own,
    ).illegal;
    expect(moved.map((w) => w.shard)).toEqual([1]); // shard 1 is ez-sh's
    const user = judgeWrites(
      txnOf(2, [
        { table: 'users', op: 'insert', before: null, after: { id: 'u-1', updated_at: at(t0 + 1_000) } },
      ]),
      'ez-sh',
      TABLES,
      own,
    ).illegal;
    expect(user[0]).toMatchObject({
      owner: 'ez-bj',
      evidence: { rule: 'global-table-written-outside-master' },
    });
    const bad = judgeWrites(
      txnOf(1, [
        {
          table: 'orders',
          op: 'insert',
          before: null,
          after: { id: 1, shard_id: 'x', updated_at: at(t0 + 1_000) },
        },
      ]),
      'ez-bj',
      TABLES,
      own,
    ).illegal;
    expect(bad[0]).toMatchObject({ owner: null, evidence: { rule: 'unknown-shard' } });
    // a shard GZS does not know is not judged (never a guess)
    expect(judgeWrites(write(1, 999, t0 + 1_000), 'ez-bj', TABLES, own).unjudged).toBe(1);
  });
});

describe('install script', () => {
  const types = new Map([
    ['orders', { kind: 'datetime' as const, precision: 6 }],
    ['users', { kind: 'integer' as const, precision: 0 }],
  ]);
  it('creates the tables, the invisible column and three triggers per table, outside the binlog', () => {
    const sql = installScript('ezshop', [ORDERS, USERS], types);
    expect(sql).toMatch(/^USE `ezshop`;\nDELIMITER ;;\nSET SESSION sql_log_bin = 0;;/);
    expect(sql).toContain('ADD COLUMN IF NOT EXISTS `drc_origin` INT UNSIGNED NOT NULL DEFAULT 0 INVISIBLE');
    for (const t of ['orders', 'users'])
      for (const name of Object.values(triggerNames(t)))
        expect(sql).toContain(`CREATE OR REPLACE TRIGGER \`${name}\``);
    expect(sql).toContain('+ INTERVAL 1 MICROSECOND'); // DATETIME(6): one tick
    expect(sql).toContain('`updated_at` = OLD.`updated_at` + 1;'); // BIGINT µs
  });

  it('names a missing table or an unusable updated_at column', () => {
    expect(() => parseColumnTypes([['orders', 'datetime', 6]], [ORDERS, USERS], 'ez-bj')).toThrow(
      /ez-bj: table users \(or its column updated_at\) does not exist/,
    );
    expect(() => parseColumnTypes([['orders', 'varchar', 0]], [ORDERS], 'ez-bj')).toThrow(
      /orders: updated_at column has type varchar; DRC needs DATETIME\(6\) or BIGINT/,
    );
  });

  it('lists what an install lacks', () => {
    const q = verifyQueries('ezshop', [ORDERS]);
    expect(
      missingPieces(q, { tables: q.expected.tables, columns: ['orders'], triggers: q.expected.triggers }),
    ).toEqual([]);
    expect(missingPieces(q, { tables: [], columns: [], triggers: ['drc_orders_bi'] })).toEqual(
      expect.arrayContaining(['table drc_checkpoint', 'column orders.drc_origin', 'trigger drc_orders_ad']),
    );
  });
});
