/**
 * APIRouter as a real process in front of the two-zones stack (real MariaDB, Redis, GZS, order
 * services): geo and order tags reach the owner eZone's service and its database, bad tags 400,
 * locks changed through GZS hold requests, an eZone that does not answer is 503 and never
 * another eZone, a clean SIGTERM. Needs the build (`npx tsc -p .`).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shardOfOrderId } from '../../src/routing/index.js';
import { freePort } from '../helpers/services.js';
import {
  BEIJING,
  HANGZHOU,
  http,
  metric,
  metricsOf,
  reachEpoch,
  SHANGHAI,
  startTrafficStack,
  type TrafficStack,
} from './router-stack.js';

// the parts' logs go to files; info keeps their lifecycle lines (ready, stopped)
process.env.EZ_LOG_LEVEL = 'info';

let s: TrafficStack;

beforeAll(async () => {
  s = await startTrafficStack();
});

afterAll(async () => {
  await s?.stop();
});

const viaRouter = (
  path: string,
  tag: string | undefined,
  body?: unknown,
  headers: Record<string, string> = {},
) => http(`${s.router.url}${path}`, { body, headers: { ...(tag ? { 'X-Ez-Route': tag } : {}), ...headers } });

const newOrder = { user: 'u-1', merchant: 'm-1', amountCents: 2599 };

describe('APIRouter with real order services', () => {
  it('routes Beijing and Shanghai orders to different eZones, each written in its own database', async () => {
    const bj = await viaRouter('/orders', BEIJING, newOrder);
    const sh = await viaRouter('/orders', SHANGHAI, newOrder);
    expect(bj.status, bj.text).toBe(201);
    expect(sh.status, sh.text).toBe(201);
    expect(bj.headers['x-ez-zone']).toBe('ez-bj');
    expect(sh.headers['x-ez-zone']).toBe('ez-sh');
    expect(bj.json.zone).toBe('ez-bj');
    expect(sh.json.zone).toBe('ez-sh');
    // the ids embed the shard the router decided
    expect(shardOfOrderId(bj.json.order.id)).toBe(Number(bj.headers['x-ez-shard']));
    expect(shardOfOrderId(sh.json.order.id)).toBe(Number(sh.headers['x-ez-shard']));
    expect(bj.headers['x-ez-shard']).toBe('0');
    expect(sh.headers['x-ez-shard']).toBe('1');
    const rowsBj = await s.query('ez-bj', 'SELECT id, shard_id, state, version FROM orders WHERE id = ?', [
      bj.json.order.id,
    ]);
    expect(rowsBj).toEqual([{ id: bj.json.order.id, shard_id: 0, state: 'placed', version: 1 }]);
    // no DRC in this stack: the other eZone has not seen it
    expect(await s.query('ez-sh', 'SELECT id FROM orders WHERE id = ?', [bj.json.order.id])).toEqual([]);
  });

  it('routes an order= tag by its embedded shard through the whole life of the order', async () => {
    const created = await viaRouter('/orders', SHANGHAI, newOrder);
    const id = created.json.order.id as string;
    const tag = `order=${id}`;
    for (const [action, state] of [
      ['accept', 'accepted'],
      ['pickup', 'picked_up'],
      ['deliver', 'delivered'],
    ] as const) {
      const r = await viaRouter(`/orders/${id}/${action}`, tag, action === 'pickup' ? { rider: 'r-7' } : {});
      expect(r.status, r.text).toBe(200);
      expect(r.headers['x-ez-zone']).toBe('ez-sh');
      expect(r.json.order.state).toBe(state);
    }
    const bad = await viaRouter(`/orders/${id}/cancel`, tag, {});
    expect(bad.status).toBe(409);
    expect(bad.json.error.message).toMatch(/cannot cancel an order that is delivered/);
    const [row] = await s.query('ez-sh', 'SELECT state, version, rider_id FROM orders WHERE id = ?', [id]);
    expect(row).toEqual({ state: 'delivered', version: 4, rider_id: 'r-7' });
    // reads go through the cache: the second one is a hit
    const first = await viaRouter(`/orders/${id}`, tag);
    const second = await viaRouter(`/orders/${id}`, tag);
    expect(first.json.order.state).toBe('delivered');
    expect(second.headers['x-cache']).toBe('hit');
  });

  it('answers 400 EZ_BAD_ROUTE for bad tags, without reaching a service', async () => {
    const before = metric(await metricsOf(s.apps['ez-bj']), 'ez_orders_requests_total');
    for (const tag of [undefined, 'geo=91,0', 'geo=0,0', 'order=abc', 'shard=1;shard=2', 'nope=1']) {
      const r = await viaRouter('/orders', tag, newOrder);
      expect(r.status, String(tag)).toBe(400);
      expect(r.json.error.code).toBe('EZ_BAD_ROUTE');
    }
    expect(metric(await metricsOf(s.apps['ez-bj']), 'ez_orders_requests_total')).toBe(before);
  });

  it('holds a request while GZS has the shard locked, then 503 EZ_LOCKED with Retry-After', async () => {
    const { epoch } = await s.api.lock(1, { reason: 'router test' });
    try {
      await reachEpoch([s.router, ...Object.values(s.apps)], epoch);
      const t0 = performance.now();
      const r = await viaRouter('/orders', SHANGHAI, newOrder);
      const ms = performance.now() - t0;
      expect(r.status).toBe(503);
      expect(r.json.error.code).toBe('EZ_LOCKED');
      expect(r.headers['retry-after']).toBe('1');
      expect(ms).toBeGreaterThanOrEqual(480); // the default lockWaitMs, 500 ms
      expect(ms).toBeLessThan(5000); // bounded: about lockWaitMs, not until the lock clears
      // Beijing is not affected
      expect((await viaRouter('/orders', BEIJING, newOrder)).status).toBe(201);
    } finally {
      const { epoch: e } = await s.api.unlock(1);
      await reachEpoch([s.router, ...Object.values(s.apps)], e);
    }
  });

  it('lets a held request through once GZS unlocks the shard within lockWaitMs', async () => {
    const { epoch } = await s.api.lock(1, { reason: 'router test' });
    await reachEpoch([s.router, ...Object.values(s.apps)], epoch);
    const pending = viaRouter('/orders', SHANGHAI, newOrder);
    await new Promise((r) => setTimeout(r, 150));
    await s.api.unlock(1);
    const r = await pending;
    expect(r.status, r.text).toBe(201);
    expect(Number(r.headers['x-ez-epoch'])).toBe(epoch + 1);
    expect(
      metric(await metricsOf(s.router), 'ez_router_lock_holds_total', { outcome: 'released' }),
    ).toBeGreaterThan(0);
  });

  it('follows an owner change made in GZS (Hangzhou moves to ez-bj and back)', async () => {
    const before = await viaRouter('/orders', HANGZHOU, newOrder);
    expect(before.headers['x-ez-zone']).toBe('ez-sh');
    const shard = Number(before.headers['x-ez-shard']);
    const { epoch } = await s.api.setOwner(shard, 'ez-bj');
    try {
      // the push reaches the router and both services within milliseconds; allow a little
      await reachEpoch([s.router, ...Object.values(s.apps)], epoch);
      const r = await viaRouter('/orders', HANGZHOU, newOrder);
      expect(r.status, r.text).toBe(201);
      expect(r.headers['x-ez-zone']).toBe('ez-bj');
      expect(shardOfOrderId(r.json.order.id)).toBe(shard);
    } finally {
      const back = await s.api.setOwner(shard, 'ez-sh');
      await reachEpoch([s.router, ...Object.values(s.apps)], back.epoch);
    }
  });

  it('answers 503 EZ_ZONE_UNAVAILABLE for an eZone whose service is gone or marked down, never another eZone', async () => {
    const bjBefore = metric(await metricsOf(s.apps['ez-bj']), 'ez_orders_requests_total', { op: 'create' });
    await s.apps['ez-sh'].stop();
    try {
      const r = await viaRouter('/orders', SHANGHAI, newOrder);
      expect(r.status).toBe(503);
      expect(r.json.error.code).toBe('EZ_ZONE_UNAVAILABLE');
      expect(r.json.error.message).toMatch(/ez-sh unreachable/);
      expect((await viaRouter('/orders', BEIJING, newOrder)).status).toBe(201);
      expect(metric(await metricsOf(s.apps['ez-bj']), 'ez_orders_requests_total', { op: 'create' })).toBe(
        bjBefore + 1,
      );
    } finally {
      await s.apps['ez-sh'].restart();
    }
    const down = await s.api.setZoneState('ez-sh', 'down');
    await reachEpoch([s.router], down.epoch);
    try {
      const r = await viaRouter('/orders', SHANGHAI, newOrder);
      expect(r.status).toBe(503);
      expect(r.json.error.message).toMatch(/ez-sh .* is down/);
    } finally {
      const up = await s.api.setZoneState('ez-sh', 'active');
      await reachEpoch([s.router], up.epoch);
    }
    const back = await viaRouter('/orders', SHANGHAI, newOrder);
    expect(back.status, back.text).toBe(201);
  });

  it('exposes /healthz and /metrics, and logs JSON access lines', async () => {
    const h = await http(`${s.router.url}/healthz`);
    expect(h.status).toBe(200);
    expect(h.json).toMatchObject({ ok: true, part: 'router', zones: ['ez-bj', 'ez-sh'] });
    const m = await metricsOf(s.router);
    expect(metric(m, 'ez_router_requests_total', { zone: 'ez-sh', code: '201' })).toBeGreaterThan(0);
    expect(metric(m, 'ez_router_requests_total', { code: '400' })).toBeGreaterThan(0);
    expect(m).toMatch(/ez_sdk_epoch\{part="router"\} \d+/);
  });
});

describe('APIRouter SIGTERM', () => {
  it('finishes in-flight requests, then exits 0', async () => {
    const extra = await s.startPart('router', undefined, await freePort(), [
      '--lock-wait',
      '1500',
      '--access-log-sample',
      '1',
    ]);
    const { epoch } = await s.api.lock(1, { reason: 'sigterm test' });
    await reachEpoch([extra, ...Object.values(s.apps)], epoch);
    try {
      // a held request is in flight when SIGTERM arrives; the lock clears while the router drains
      const pending = http(`${extra.url}/orders`, { body: newOrder, headers: { 'X-Ez-Route': SHANGHAI } });
      await new Promise((r) => setTimeout(r, 200));
      const stopping = extra.stop();
      await new Promise((r) => setTimeout(r, 200));
      await s.api.unlock(1);
      const r = await pending;
      await stopping;
      expect(r.status, r.text).toBe(201);
      expect(await extra.alive()).toBe(false);
      const log = readFileSync(extra.logFile, 'utf8');
      expect(log).toMatch(/"msg":"stopped"/);
      expect(log).toMatch(/"kind":"access".*"status":201/);
    } finally {
      await s.api.unlock(1).catch(() => undefined);
    }
  });
});
