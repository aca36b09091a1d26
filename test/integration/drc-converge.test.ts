/**
 * DRC between two real MariaDB eZones, both directions as real processes: no echo in either
 * binlog, illegal writes reported, and concurrent conflicting writes (ties included) converging
 * row by row with every lost version in a conflict ledger.
 */
import type { Connection } from 'mysql2/promise';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BinlogSource } from '../../src/drc/binlog.js';
import { purgeOldTombstones } from '../../src/drc/install.js';
import { readerServerId } from '../../src/drc/names.js';
import type { SourceTxn } from '../../src/drc/types.js';
import { type DrcLab, type LabZone, retryDeadlock, startDrcLab } from '../helpers/drc.js';

/** Every transaction of a zone's binlog up to its position now (every origin). */
async function readBinlog(z: LabZone, tables: string[]): Promise<SourceTxn[]> {
  const c = await mysql.createConnection(z.db.root);
  const [rows] = await c.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos');
  await c.end();
  const want = new Map(
    String((rows as { pos: string }[])[0].pos)
      .split(',')
      .filter(Boolean)
      .map((g) => [Number(g.split('-')[0]), BigInt(g.split('-')[2])] as const),
  );
  const txns: SourceTxn[] = [];
  const seen = new Map<number, bigint>();
  await new Promise<void>((resolve, reject) => {
    const done = () => [...want].every(([d, s]) => (seen.get(d) ?? -1n) >= s);
    if (done()) return resolve();
    const src: BinlogSource = new BinlogSource({
      host: '127.0.0.1',
      port: z.db.port,
      user: z.db.reader.user!,
      password: String(z.db.reader.password),
      readerId: readerServerId(`test-read-${z.id}-${Math.random()}`),
      database: z.db.database,
      tables: new Set(tables),
      from: '',
      onTxn: (t) => {
        txns.push(t);
        seen.set(t.domainId, BigInt(t.seqNo));
        if (done()) src.stop().then(resolve);
      },
      onError: reject,
    });
    src.start();
  });
  return txns;
}

const ts = (baseMs: number, us: number): string => {
  const d = new Date(baseMs + Math.floor(us / 1000));
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}${p(us % 1000, 3)}`;
};

const insertOrder = (c: Connection, id: number, shard: number, state: string, at: string) =>
  c.query(
    `INSERT INTO orders (id, shard_id, user_id, merchant_id, state, amount_cents, created_at, updated_at)
     VALUES (?, ?, 'u-1', 'm-1', ?, 100, ?, ?)`,
    [id, shard, state, at, at],
  );

describe('DRC two eZones', () => {
  let lab: DrcLab;
  const pairs: [string, string][] = [
    ['ez-bj', 'ez-sh'],
    ['ez-sh', 'ez-bj'],
  ];

  beforeAll(async () => {
    lab = await startDrcLab({ zones: 2, gzs: true });
    await lab.startReplicator('ez-bj', 'ez-sh');
    await lab.startReplicator('ez-sh', 'ez-bj');
  });

  afterAll(async () => {
    await lab?.close();
  });

  it('each binlog holds exactly its local transactions plus the applied ones, once: no echo', async () => {
    const bj = await lab.app('ez-bj');
    const sh = await lab.app('ez-sh');
    const now = Date.now();
    // 40 transactions in ez-bj, 30 in ez-sh, some with several rows; distinct ids per eZone
    for (let i = 0; i < 40; i++) {
      await bj.beginTransaction();
      await insertOrder(bj, 1000 + i, 0, 'placed', ts(now, i));
      if (i % 4 === 0) await insertOrder(bj, 5000 + i, 0, 'placed', ts(now, i));
      await bj.commit();
    }
    for (let i = 0; i < 30; i++) await insertOrder(sh, 2000 + i, 1, 'placed', ts(now, i));
    await lab.drain(pairs);
    await new Promise((r) => setTimeout(r, 500)); // an echo would need a moment to come back
    await lab.drain(pairs);

    const bjIds = [...Array(40).keys()]
      .map((i) => 1000 + i)
      .concat([...Array(10).keys()].map((i) => 5000 + 4 * i));
    const shIds = [...Array(30).keys()].map((i) => 2000 + i);
    for (const z of lab.zones) {
      const txns = await readBinlog(z, ['orders']);
      const orderTxns = txns.filter((t) => t.changes.some((c) => c.table === 'orders'));
      const byOrigin = (sid: number) => orderTxns.filter((t) => t.serverId === sid);
      const bjSid = lab.zone('ez-bj').serverId;
      const shSid = lab.zone('ez-sh').serverId;
      // every row change appears once, stamped with the eZone that wrote it
      const ids = (sid: number) =>
        byOrigin(sid)
          .flatMap((t) => t.changes.map((c) => `${c.op}:${(c.after ?? c.before)!.id}`))
          .sort();
      expect(ids(bjSid)).toEqual(bjIds.map((id) => `insert:${id}`).sort());
      expect(ids(shSid)).toEqual(shIds.map((id) => `insert:${id}`).sort());
      expect(orderTxns.length).toBe(byOrigin(bjSid).length + byOrigin(shSid).length);
      // the local transactions are exactly the 40 (or 30) that were written
      if (z.id === 'ez-bj') expect(byOrigin(bjSid)).toHaveLength(40);
      else expect(byOrigin(shSid)).toHaveLength(30);
      // and the rows carry their origin in the invisible column
      for (const t of orderTxns)
        for (const c of t.changes) expect(Number(c.after!.drc_origin), `${z.id} ${t.gtid}`).toBe(t.serverId);
    }
    expect((await lab.digest('ez-bj', 'orders')).sha).toBe((await lab.digest('ez-sh', 'orders')).sha);
  });

  it('reports a write in the wrong eZone in drc_illegal_writes, with the owner and the evidence', async () => {
    const sh = await lab.app('ez-sh');
    const now = Date.now();
    // shard 0 (Beijing) belongs to ez-bj; shard 2 (Guangzhou) to ez-sh
    await insertOrder(sh, 7_000_001, 0, 'placed', ts(now, 0));
    await insertOrder(sh, 7_000_002, 2, 'placed', ts(now, 0));
    await lab.drain(pairs);
    const root = await lab.root('ez-bj');
    const [rows] = await root.query(
      "SELECT origin_zone, table_name, pk, shard, owner_zone, epoch, source_gtid, evidence FROM drc_illegal_writes WHERE pk IN ('7000001', '7000002')",
    );
    const found = rows as Record<string, any>[];
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      origin_zone: 'ez-sh',
      table_name: 'orders',
      pk: '7000001',
      shard: 0,
      owner_zone: 'ez-bj',
      epoch: '1',
    });
    expect(found[0].source_gtid).toMatch(/^2-2-\d+$/);
    expect(JSON.parse(found[0].evidence)).toMatchObject({
      rule: 'shard-owned-by-another-ezone',
      op: 'insert',
    });
    const metrics = await lab.procs.find((p) => p.name === 'drc-ez-sh-to-ez-bj')!.metrics();
    expect(metrics).toMatch(/ezdrc_illegal_writes_total\{[^}]*\} [1-9]/);
  });

  it('concurrent writes to the same keys (equal updated_at included) converge; every lost version is in a ledger', async () => {
    const KEYS = 40;
    const OPS = 160;
    const base = Date.now() + 60_000; // above the rows written so far
    const written = new Set<string>();
    const based = new Set<string>();
    const v = (r: { updated_at: string; drc_origin: number }) => `${r.updated_at}@${r.drc_origin}`;
    const worker = async (zone: string, seed: number) => {
      const c = await lab.app(zone);
      for (let i = 0; i < OPS; i++) {
        const id = 90_000 + ((i * 7 + seed * 13) % KEYS);
        // a handful of timestamps shared by both eZones: ties are frequent
        const at = ts(base, 1000 * ((i + seed) % 8));
        const r = (i * 31 + seed) % 20;
        await retryDeadlock(async () => {
          await c.beginTransaction();
          try {
            const [cur] = await c.query('SELECT updated_at, drc_origin FROM orders WHERE id = ? FOR UPDATE', [
              id,
            ]);
            const before = (cur as any[])[0];
            if (r < 2 && before) {
              await c.query('DELETE FROM orders WHERE id = ?', [id]);
            } else if (before) {
              await c.query(
                'UPDATE orders SET version = version + 1, state = ?, updated_at = ? WHERE id = ?',
                [`${zone}-${i}`, at, id],
              );
            } else {
              await insertOrder(c, id, id % 42, `${zone}-${i}`, at);
            }
            const [after] = await c.query('SELECT updated_at, drc_origin FROM orders WHERE id = ?', [id]);
            await c.commit();
            if (before) based.add(`${id}/${v(before)}`);
            const a = (after as any[])[0];
            if (a) written.add(`${id}/${v(a)}`);
          } catch (err) {
            await c.rollback().catch(() => undefined);
            throw err;
          }
        });
      }
    };
    // users is a Global-Zone table: written in the master only, replicated everywhere
    const users = async () => {
      const c = await lab.app('ez-bj');
      for (let i = 0; i < 50; i++)
        await c.query(
          'INSERT INTO users (id, phone, name, updated_at) VALUES (?, ?, ?, NOW(6)) ON DUPLICATE KEY UPDATE name = VALUES(name), version = version + 1, updated_at = NOW(6)',
          [`u-${i % 20}`, `+86-${i % 20}`, `name-${i}`],
        );
    };
    await Promise.all([
      worker('ez-bj', 1),
      worker('ez-bj', 2),
      worker('ez-sh', 3),
      worker('ez-sh', 4),
      users(),
    ]);
    await lab.drain(pairs);

    for (const table of ['orders', 'users']) {
      const a = await lab.digest('ez-bj', table);
      const b = await lab.digest('ez-sh', table);
      expect(a.rows).toBeGreaterThan(0);
      if (a.sha !== b.sha) expect(b.text).toBe(a.text); // shows the differing rows
      expect(a.sha).toBe(b.sha);
    }

    const final = new Set<string>();
    const root = await lab.root('ez-bj');
    const [rows] = await root.query('SELECT id, updated_at, drc_origin FROM orders WHERE id >= 90000');
    for (const r of rows as any[]) final.add(`${r.id}/${v(r)}`);
    const losers = new Set<string>();
    let ties = 0;
    let conflicts = 0;
    for (const z of lab.zones) {
      const c = await lab.root(z.id);
      const [ledger] = await c.query(
        "SELECT pk, winner, incoming_version, current_version FROM drc_conflicts WHERE table_name = 'orders' AND pk >= '90000'",
      );
      for (const l of ledger as any[]) {
        conflicts++;
        losers.add(`${l.pk}/${l.winner === 'incoming' ? l.current_version : l.incoming_version}`);
        if (l.incoming_version.split('@')[0] === l.current_version.split('@')[0]) ties++;
      }
    }
    const missing = [...written].filter((w) => !final.has(w) && !based.has(w) && !losers.has(w));
    expect(missing, 'versions that vanished without a ledger entry').toEqual([]);
    expect(conflicts).toBeGreaterThan(10);
    expect(ties, 'conflicts decided by the origin id (equal updated_at)').toBeGreaterThan(0);
  });

  it('purges tombstones older than the retention', async () => {
    const root = await lab.root('ez-sh');
    const [before] = await root.query('SELECT COUNT(*) AS n FROM drc_tombstones');
    const total = Number((before as any[])[0].n);
    expect(total).toBeGreaterThan(0); // the concurrent workload deleted rows
    await root.query('SET SESSION sql_log_bin = 0');
    await root.query("UPDATE drc_tombstones SET deleted_at = NOW(6) - INTERVAL 8 DAY WHERE pk LIKE '9000%'");
    const [[old]] = (await root.query(
      "SELECT COUNT(*) AS n FROM drc_tombstones WHERE pk LIKE '9000%'",
    )) as any[];
    const applier = await mysql.createConnection(lab.zone('ez-sh').db.applier);
    expect(await purgeOldTombstones(applier, 7)).toBe(Number(old.n));
    await applier.end();
    const [after] = await root.query('SELECT COUNT(*) AS n FROM drc_tombstones');
    expect(Number((after as any[])[0].n)).toBe(total - Number(old.n));
  });
});
