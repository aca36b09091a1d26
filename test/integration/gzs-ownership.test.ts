/**
 * The ownership log over a real GZS process (file store): owner changes stay exact after other
 * changes pushed the history out, `GET /ownership` and GzsApi.ownership, the log survives a crash,
 * and a document written before the log existed still loads. Needs the build (`npx tsc -p .`).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GzsApi } from '../../src/gzs/api.js';
import { type GzsDoc, newDoc, nextDoc } from '../../src/gzs/doc.js';
import { isOwnerChange, ownershipView } from '../../src/gzs/ownership.js';
import { type GzsProcess, startGzsProcess } from '../../src/gzs/testkit.js';
import { encodeOrderId } from '../../src/routing/order-id.js';
import { OwnershipAnswerSchema } from '../../src/shared/gzs-protocol.js';
import { loadTopology } from '../../src/topology/index.js';
import { tempDir } from '../helpers/run-dir.js';

const TOKEN = 'gzs-ownership-test-token';
let dir: string;
let gzs: GzsProcess;
let api: GzsApi;

const get = async (g: GzsProcess, path: string) => {
  const res = await request(`${g.url}${path}`);
  return { status: res.statusCode, json: (await res.body.json()) as any };
};

const orderIds = (n: number) =>
  Array.from({ length: n }, (_, i) =>
    encodeOrderId({
      timestampMs: Date.UTC(2026, 5, 1) + Math.floor(i / 4096),
      shard: i % 1024,
      sequence: i % 4096,
    }),
  );

beforeAll(async () => {
  dir = tempDir('gzs-ownership');
  gzs = await startGzsProcess({
    store: `file:${join(dir, 'table.json')}`,
    logFile: join(dir, 'gzs.log'),
    token: TOKEN,
  });
  api = new GzsApi(gzs.url, { token: TOKEN });
});

afterAll(async () => {
  await gzs?.stop();
});

describe('GZS ownership log (real process)', () => {
  it('keeps an owner change exact after other changes pushed the history out', async () => {
    const moved = await api.setOwner(5, 'ez-bj'); // ez-sh's in the topology
    const h0 = await api.history(moved.epoch - 1);
    const at = h0.entries[0].at;
    // 20,000 no-ops (once enough to push the history out), then real changes that do push it out
    await api.changes(Array.from({ length: 20_000 }, () => ({ op: 'unlock' as const, shard: 6 })));
    const ids = orderIds(4000);
    const locked = await api.changes(
      ids.map((orderId) => ({ op: 'order-lock', orderId, reason: 'failover' })),
    );
    const history = await api.history(0);
    expect(history.oldestEpoch).toBeGreaterThan(moved.epoch); // the owner change left the history...
    // ...not the ownership log
    expect((await get(gzs, `/owner?shard=5&at=${at - 1}`)).json).toMatchObject({
      shard: 5,
      zone: 'ez-sh',
      locked: false,
      exact: true,
    });
    expect((await get(gzs, `/owner?shard=5&at=${at}`)).json).toMatchObject({
      zone: 'ez-bj',
      epoch: moved.epoch,
      exact: true,
    });

    const own = await api.ownership();
    expect(OwnershipAnswerSchema.safeParse(own).success).toBe(true);
    expect(own).toMatchObject({
      epoch: locked.epoch,
      generation: moved.generation,
      since: null,
      retainedFrom: { epoch: 1 },
    });
    expect(own.base?.epoch).toBe(1);
    expect(own.base?.owners['5']).toBe('ez-sh');
    expect(own.now).toBeGreaterThanOrEqual(at);
    expect(own.events.filter(isOwnerChange)).toContainEqual({
      epoch: moved.epoch,
      at,
      shard: 5,
      from: 'ez-sh',
      to: 'ez-bj',
    });
    const v = ownershipView(own);
    expect(v.ownerAt(5, at - 1)?.zone).toBe('ez-sh');
    expect(v.ownerAtEpoch(5, moved.epoch)?.zone).toBe('ez-bj');
    expect(v.ownerAtEpoch(5, moved.epoch - 1)?.zone).toBe('ez-sh');

    // since: only what is newer, and no base while since is within what is retained
    const after = await api.ownership(moved.epoch);
    expect(after).toMatchObject({ since: moved.epoch, base: null, epoch: locked.epoch, events: [] });
    const lock = await api.lock(8);
    const newer = await api.ownership(moved.epoch);
    expect(newer.events).toEqual([{ epoch: lock.epoch, at: expect.any(Number), shard: 8, op: 'lock' }]);
    await api.unlock(8);
    expect((await get(gzs, '/ownership?since=x')).status).toBe(400);
    await api.changes(ids.map((orderId) => ({ op: 'order-unlock', orderId })));
  });

  it('keeps the log across a crash', async () => {
    const before = await api.ownership();
    await gzs.kill();
    await gzs.restart();
    const after = await api.ownership();
    expect({ ...after, now: 0 }).toEqual({ ...before, now: 0 });
  });

  it('loads a document written before the log existed, deriving it from the history', async () => {
    const topology = loadTopology();
    // within the retention (30 days) of the GZS that loads it
    const t = Date.now() - 3 * 3600_000;
    const [t1, t2, t3] = [t, t + 3600_000, t + 2 * 3600_000];
    let doc: GzsDoc = newDoc(topology, t1);
    doc = nextDoc(doc, [{ op: 'lock', shard: 3 }], { now: t2 }).doc;
    doc = nextDoc(
      doc,
      [
        { op: 'owner', shard: 3, zone: 'ez-bj' },
        { op: 'unlock', shard: 3 },
      ],
      { now: t3 },
    ).doc;
    const { ownership: _, ...old } = doc;
    const file = join(dir, 'old.json');
    writeFileSync(file, JSON.stringify(old));
    const g = await startGzsProcess({ store: `file:${file}`, logFile: join(dir, 'old.log'), token: TOKEN });
    try {
      const own = (await get(g, '/ownership')).json;
      expect(own.retainedFrom).toEqual({ epoch: 1, at: t1 });
      expect(own.events).toEqual([
        { epoch: 2, at: t2, shard: 3, op: 'lock' },
        { epoch: 3, at: t3, shard: 3, from: 'ez-sh', to: 'ez-bj' },
        { epoch: 3, at: t3, shard: 3, op: 'unlock' },
      ]);
      expect((await get(g, `/owner?shard=3&at=${t2 + 1}`)).json).toMatchObject({
        zone: 'ez-sh',
        locked: true,
        epoch: 2,
        exact: true,
      });
      expect(readFileSync(g.logFile, 'utf8')).toMatch(/no ownership log in the document/);
      // the next change stores the log with the document
      await new GzsApi(g.url, { token: TOKEN }).lock(9);
      const stored = JSON.parse(readFileSync(file, 'utf8'));
      expect(stored.format).toBe('ezctl-gzs/1');
      expect(stored.ownership.entries.map((e: { epoch: number }) => e.epoch)).toEqual([2, 3, 4]);
    } finally {
      await g.stop();
    }
  });
});
