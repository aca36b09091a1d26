/**
 * The sample order service as a real process on real MariaDB and Redis, called directly (no
 * router): ownership checked before the body is read (421), locks from GZS (503), validation,
 * the state machine, microsecond updated_at and version, cache-aside with invalidation, a Redis
 * outage, and waiting for a caller's newer epoch. Needs the build (`npx tsc -p .`).
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isValidHistory } from '../../src/orders/lifecycle.js';
import { encodeOrderId } from '../../src/routing/index.js';
import { BEIJING, http, reachEpoch, SHANGHAI, startTrafficStack, type TrafficStack } from './router-stack.js';

process.env.EZ_LOG_LEVEL = 'info';

let s: TrafficStack;
let app: string;

beforeAll(async () => {
  s = await startTrafficStack();
  app = s.apps['ez-bj'].url;
});

afterAll(async () => {
  await s?.stop();
});

const order = { user: 'u-9', merchant: 'm-9', amountCents: 4200 };
const create = (headers: Record<string, string> = { 'X-Ez-Route': BEIJING }, body: unknown = order) =>
  http(`${app}/orders`, { body, headers });
const act = (id: string, action: string, body: unknown = {}) =>
  http(`${app}/orders/${id}/${action}`, { body });

/** Send only the head of a request whose body never comes; resolve with the first line of the answer. */
function headOnly(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    let got = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer before the body; got ${JSON.stringify(got)}`));
    }, 3000);
    sock.on('data', (b) => {
      got += b.toString('latin1');
      if (got.includes('\r\n\r\n')) {
        clearTimeout(timer);
        sock.destroy();
        resolve(got);
      }
    });
    sock.on('error', reject);
    sock.write(head);
  });
}

describe('order service: ownership', () => {
  it('creates an order for a shard it owns, from its own routing of X-Ez-Route', async () => {
    const r = await create();
    expect(r.status, r.text).toBe(201);
    expect(r.json.order).toMatchObject({
      shard: 0,
      state: 'placed',
      version: 1,
      user: 'u-9',
      amountCents: 4200,
    });
    expect(r.headers['x-ez-zone']).toBe('ez-bj');
  });

  it('answers 421 EZ_WRONG_ZONE for a shard of another eZone, before reading the body', async () => {
    const r = await create({ 'X-Ez-Route': SHANGHAI });
    expect(r.status).toBe(421);
    expect(r.json.error.code).toBe('EZ_WRONG_ZONE');
    expect(r.json.error.message).toMatch(/^EZ_WRONG_ZONE shard=1 owner=ez-sh local=ez-bj epoch=\d+$/);
    expect(r.headers['x-ez-epoch']).toMatch(/^\d+$/);
    const answer = await headOnly(
      s.apps['ez-bj'].port,
      `POST /orders HTTP/1.1\r\nHost: x\r\nX-Ez-Shard: 1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1.1 421 /);
  });

  it('answers 503 EZ_LOCKED for a locked shard and a locked order, and writes once unlocked', async () => {
    const created = await create();
    const id = created.json.order.id as string;
    const locked = await s.api.lock(0, { reason: 'orders test' });
    await reachEpoch([s.apps['ez-bj']], locked.epoch);
    try {
      const r = await create();
      expect(r.status).toBe(503);
      expect(r.json.error.message).toMatch(/^EZ_LOCKED shard=0/);
      expect(r.headers['retry-after']).toBe('1');
    } finally {
      await s.api.unlock(0);
    }
    const ol = await s.api.lockOrder(id, 'failover test');
    await reachEpoch([s.apps['ez-bj']], ol.epoch);
    try {
      const r = await act(id, 'accept');
      expect(r.status).toBe(503);
      expect(r.json.error.message).toMatch(
        new RegExp(`^EZ_LOCKED order=${id} epoch=\\d+ \\(failover test\\)$`),
      );
    } finally {
      const un = await s.api.unlockOrder(id);
      await reachEpoch([s.apps['ez-bj']], un.epoch);
    }
    expect((await act(id, 'accept')).status).toBe(200);
  });

  it("waits for a caller's newer epoch before judging ownership", async () => {
    const shard = 8; // Hangzhou: ez-sh in the topology
    const { table } = await s.api.table();
    const pending = create({ 'X-Ez-Shard': String(shard), 'X-Ez-Epoch': String(table.epoch + 1) });
    await new Promise((r) => setTimeout(r, 100));
    const moved = await s.api.setOwner(shard, 'ez-bj');
    try {
      const r = await pending;
      expect(r.status, r.text).toBe(201);
      expect(r.json.order.shard).toBe(shard);
      expect(r.json.epoch).toBe(moved.epoch);
    } finally {
      await s.api.setOwner(shard, 'ez-sh');
    }
  });
});

describe('order service: requests and the order life', () => {
  it.each([
    ['a missing field', { merchant: 'm', amountCents: 1 }, /^body: user: required/],
    ['a zero amount', { ...order, amountCents: 0 }, /^body: amountCents: /],
    [
      'a fractional amount',
      { ...order, amountCents: 1.5 },
      /^body: amountCents: expected an amount in cents/,
    ],
    ['an unknown field', { ...order, tip: 1 }, /^body: \(top level\): unknown key "tip"/],
    ['a bad user id', { ...order, user: 'a b' }, /^body: user: expected 1-64 of/],
    ['text that is not JSON', '{"user":', /^body: not JSON/],
  ])('answers 400 for %s', async (_what, body, message) => {
    const r = await create({ 'X-Ez-Route': BEIJING }, body);
    expect(r.status).toBe(400);
    expect(r.json.error.message).toMatch(message);
  });

  it('answers 400/404/413 for bad ids, unknown orders and routes, and oversized bodies', async () => {
    expect((await http(`${app}/orders/12ab`)).status).toBe(400);
    const unknown = encodeOrderId({ timestampMs: Date.now(), shard: 0, sequence: 1 });
    const nf = await http(`${app}/orders/${unknown}`);
    expect(nf.status).toBe(404);
    expect(nf.json.error.message).toBe(`no order ${unknown}`);
    expect((await act(unknown, 'accept')).status).toBe(404);
    expect((await http(`${app}/orders/${unknown}/fly`, { body: {} })).status).toBe(404);
    expect((await http(`${app}/nope`)).status).toBe(404);
    const big = await create(
      { 'X-Ez-Route': BEIJING },
      JSON.stringify({ ...order, pad: 'x'.repeat(70_000) }),
    );
    expect(big.status).toBe(413);
    expect((await create({})).json.error.message).toMatch(/no shard: send X-Ez-Route/);
  });

  it('walks the state machine; bad transitions are 409; every write bumps version and updated_at (µs)', async () => {
    const id = (await create()).json.order.id as string;
    const states: string[] = ['placed'];
    const stamps: string[] = [];
    for (const [action, body] of [
      ['accept', {}],
      ['pickup', { rider: 'r-1' }],
      ['deliver', {}],
    ] as const) {
      const r = await act(id, action, body);
      expect(r.status, r.text).toBe(200);
      states.push(r.json.order.state);
      stamps.push(r.json.order.updatedAt);
    }
    expect(states).toEqual(['placed', 'accepted', 'picked_up', 'delivered']);
    expect(isValidHistory(states)).toBe(true);
    for (const t of stamps) expect(t).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/);
    expect([...stamps].sort()).toEqual(stamps);
    const again = await act(id, 'accept');
    expect(again.status).toBe(409);
    expect(again.json.error.message).toBe('cannot accept an order that is delivered (accept needs placed)');
    const [row] = await s.query('ez-bj', 'SELECT state, version, rider_id FROM orders WHERE id = ?', [id]);
    expect(row).toEqual({ state: 'delivered', version: 4, rider_id: 'r-1' });

    const c = (await create()).json.order.id as string;
    expect((await act(c, 'accept')).status).toBe(200);
    expect((await act(c, 'cancel')).json.order.state).toBe('cancelled');
    expect((await act(c, 'pickup')).status).toBe(409);
  });

  it('knows the valid histories', () => {
    expect(isValidHistory(['placed', 'cancelled'])).toBe(true);
    expect(isValidHistory(['placed', 'accepted', 'cancelled'])).toBe(true);
    expect(isValidHistory(['placed', 'picked_up'])).toBe(false);
    expect(isValidHistory(['accepted'])).toBe(false);
    expect(isValidHistory(['placed', 'accepted', 'picked_up', 'cancelled'])).toBe(false);
  });
});

describe('order service: cache-aside', () => {
  it('reads through Redis: a miss, then hits; its own write invalidates the key', async () => {
    const id = (await create()).json.order.id as string;
    const first = await http(`${app}/orders/${id}`);
    const second = await http(`${app}/orders/${id}`);
    expect(first.headers['x-cache']).toBe('miss');
    expect(second.headers['x-cache']).toBe('hit');
    expect(second.json.order.state).toBe('placed');
    await act(id, 'accept');
    const after = await http(`${app}/orders/${id}`);
    expect(after.headers['x-cache']).toBe('miss');
    expect(after.json.order.state).toBe('accepted');
    expect(after.json.order.version).toBe(2);
  });

  it('keeps answering from MariaDB while Redis is down', async () => {
    const id = (await create()).json.order.id as string;
    await s.redis['ez-bj'].stop();
    try {
      const r = await http(`${app}/orders/${id}`);
      expect(r.status).toBe(200);
      expect(r.headers['x-cache']).toBe('error');
      expect((await act(id, 'accept')).status).toBe(200);
      expect((await http(`${app}/healthz`)).json.ok).toBe(true);
    } finally {
      await s.redis['ez-bj'].restart();
    }
  });
});
