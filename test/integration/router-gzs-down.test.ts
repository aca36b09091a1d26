/**
 * GZS stopped (issue 4 acceptance, with the SDK from src/sdk/): APIRouter and the SOA Proxies keep
 * routing correctly from the SDK's cache — also after they are restarted while GZS is still
 * down — and when GZS returns they catch up to the newest epoch. All real processes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  until,
} from './router-stack.js';

process.env.EZ_LOG_LEVEL = 'info';

let s: TrafficStack;
let hangzhouShard: number;
let movedEpoch: number;
let shOrder: string;

beforeAll(async () => {
  s = await startTrafficStack();
  const created = await http(`${s.router.url}/orders`, {
    body: { user: 'u-3', merchant: 'm-3', amountCents: 800 },
    headers: { 'X-Ez-Route': SHANGHAI },
  });
  expect(created.status, created.text).toBe(201);
  shOrder = created.json.order.id;
  // a table that differs from the topology's: Hangzhou (ez-sh in the file) moved to ez-bj
  const hz = await http(`${s.router.url}/orders`, {
    body: { user: 'u-3', merchant: 'm-3', amountCents: 800 },
    headers: { 'X-Ez-Route': HANGZHOU },
  });
  hangzhouShard = Number(hz.headers['x-ez-shard']);
  movedEpoch = (await s.api.setOwner(hangzhouShard, 'ez-bj')).epoch;
  await reachEpoch([s.router, ...Object.values(s.soas), ...Object.values(s.apps)], movedEpoch);
});

afterAll(async () => {
  await s?.stop();
});

const order = { user: 'u-3', merchant: 'm-3', amountCents: 800 };

/** Routing is correct at `epoch`: Hangzhou at `hangzhouZone`, Beijing/Shanghai at home, SOA across eZones. */
async function routesCorrectly(epoch: number, hangzhouZone: string): Promise<void> {
  for (const [tag, zone] of [
    [BEIJING, 'ez-bj'],
    [SHANGHAI, 'ez-sh'],
    [HANGZHOU, hangzhouZone],
  ] as const) {
    const r = await http(`${s.router.url}/orders`, { body: order, headers: { 'X-Ez-Route': tag } });
    expect(r.status, `${tag}: ${r.text}`).toBe(201);
    expect(r.headers['x-ez-zone'], tag).toBe(zone);
    expect(Number(r.headers['x-ez-epoch']), tag).toBe(epoch);
  }
  const soa = await http(`${s.soas['ez-bj'].url}/internal/orders/${shOrder}/summary`, {
    headers: { 'X-Ez-Route': `order=${shOrder}` },
  });
  expect(soa.status, soa.text).toBe(200);
  expect(soa.json.servedBy).toBe('ez-sh');
  expect(soa.headers['x-ez-soa-path']).toBe('ez-bj>ez-sh');
  expect(Number(soa.headers['x-ez-epoch'])).toBe(epoch);
}

describe('GZS stopped', () => {
  it('APIRouter and SOA Proxies keep routing from the SDK cache while GZS is down', async () => {
    await s.gzs.stop();
    expect(await s.gzs.alive()).toBe(false);
    await routesCorrectly(movedEpoch, 'ez-bj');
    const m = await metricsOf(s.router);
    expect(metric(m, 'ez_sdk_connected')).toBe(0);
    expect(metric(m, 'ez_sdk_epoch')).toBe(movedEpoch);
  });

  it('keeps routing correctly after APIRouter, the SOA Proxies and the services restart while GZS is still down', async () => {
    const pids = [s.router.pid, s.soas['ez-bj'].pid, s.soas['ez-sh'].pid, s.apps['ez-bj'].pid];
    await Promise.all([
      s.router.restart(),
      s.soas['ez-bj'].restart(),
      s.soas['ez-sh'].restart(),
      s.apps['ez-bj'].restart(),
    ]);
    expect([s.router.pid, s.soas['ez-bj'].pid, s.soas['ez-sh'].pid, s.apps['ez-bj'].pid]).not.toEqual(pids);
    expect(await s.gzs.alive()).toBe(false);
    for (const p of [s.router, s.soas['ez-bj'], s.soas['ez-sh'], s.apps['ez-bj']]) {
      const h = await http(`${p.url}/healthz`);
      expect(h.json.epoch, p.part).toBe(movedEpoch);
    }
    expect(metric(await metricsOf(s.router), 'ez_sdk_from_cache')).toBe(1);
    await routesCorrectly(movedEpoch, 'ez-bj');
  });

  it('catches up to the newest epoch when GZS returns', async () => {
    await s.gzs.restart();
    // the change made after GZS is back: Hangzhou returns to ez-sh
    const { epoch } = await s.api.setOwner(hangzhouShard, 'ez-sh');
    expect(epoch).toBe(movedEpoch + 1);
    const t0 = performance.now();
    const parts = [s.router, ...Object.values(s.soas), ...Object.values(s.apps)];
    const caughtUp = await until(async () => {
      for (const p of parts) if ((await http(`${p.url}/healthz`)).json.epoch < epoch) return false;
      return true;
    }, 20_000);
    expect(caughtUp).toBe(true);
    const ms = performance.now() - t0;
    process.stdout.write(`GZS back: every part held epoch ${epoch} ${Math.round(ms)} ms after the change\n`);
    await routesCorrectly(epoch, 'ez-sh');
    expect(metric(await metricsOf(s.router), 'ez_sdk_connected')).toBe(1);
  });
});
