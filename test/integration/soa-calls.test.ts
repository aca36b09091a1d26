/**
 * SOA Proxies as real processes, one per eZone, with the path between eZones through the named
 * links `ez-bj->ez-sh:soa` / `ez-sh->ez-bj:soa` of a built-in link server: a call made in eZone A
 * for a shard owned by B is served by B's service through B's SOA Proxy; local shards stay local;
 * a forwarded call is never forwarded again; a cut link is 503, never a local answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinkSet } from '../../src/links/link-set.js';
import { type LinkServer, startLinkServer } from '../../src/links/server.js';
import { loadTopology } from '../../src/topology/index.js';
import { freePorts } from '../helpers/services.js';
import {
  BEIJING,
  http,
  metric,
  metricsOf,
  SHANGHAI,
  startTrafficStack,
  type TrafficStack,
} from './router-stack.js';

process.env.EZ_LOG_LEVEL = 'info';

let s: TrafficStack;
let links: LinkServer;
let set: LinkSet;
let shOrder: string;
let bjOrder: string;

beforeAll(async () => {
  links = await startLinkServer({ port: 0, seed: 7 });
  // the SOA Proxies' ports are in the topology the stack writes: plan the links from it lazily
  let linkOf: Record<string, string> = {};
  s = await startTrafficStack({
    soaArgs: (zone) => ['--peer', `${other(zone)}=http://${linkOf[zone]}`],
    beforeSoa: async (topologyFile) => {
      const topology = loadTopology(topologyFile);
      // fixed listen ports (as `ezctl up` plans them): the SOA Proxies are configured with them
      const [a, b] = await freePorts(2);
      set = await LinkSet.create({
        toxiproxy: links.url,
        topology,
        listenPortOf: (from) => (from === 'ez-bj' ? a : b),
        addresses: Object.fromEntries(
          topology.zones.map((z) => [
            z.id,
            { soa: `127.0.0.1:${topology.deployment.zones[z.id].ports.soa}` },
          ]),
        ),
      });
      linkOf = {
        'ez-bj': set.address('ez-bj', 'ez-sh', 'soa'),
        'ez-sh': set.address('ez-sh', 'ez-bj', 'soa'),
      };
    },
  });
  const sh = await http(`${s.router.url}/orders`, { body: order, headers: { 'X-Ez-Route': SHANGHAI } });
  const bj = await http(`${s.router.url}/orders`, { body: order, headers: { 'X-Ez-Route': BEIJING } });
  expect(sh.status, sh.text).toBe(201);
  expect(bj.status, bj.text).toBe(201);
  shOrder = sh.json.order.id;
  bjOrder = bj.json.order.id;
});

afterAll(async () => {
  await s?.stop();
  await links?.close();
});

const order = { user: 'u-2', merchant: 'm-2', amountCents: 1200 };
const other = (zone: string): string => (zone === 'ez-bj' ? 'ez-sh' : 'ez-bj');

const summary = (zone: string, id: string, headers: Record<string, string> = {}) =>
  http(`${s.soas[zone].url}/internal/orders/${id}/summary`, {
    headers: { 'X-Ez-Route': `order=${id}`, ...headers },
  });

const counts = async () => {
  const [soaBj, soaSh, appBj, appSh] = await Promise.all([
    metricsOf(s.soas['ez-bj']),
    metricsOf(s.soas['ez-sh']),
    metricsOf(s.apps['ez-bj']),
    metricsOf(s.apps['ez-sh']),
  ]);
  return {
    bjRemote: metric(soaBj, 'ez_soa_requests_total', { zone: 'ez-sh', route: 'remote' }),
    bjInbound: metric(soaBj, 'ez_soa_requests_total', { route: 'inbound' }),
    shInbound: metric(soaSh, 'ez_soa_requests_total', { zone: 'ez-sh', route: 'inbound', code: '200' }),
    appBj: metric(appBj, 'ez_orders_requests_total', { op: 'summary' }),
    appSh: metric(appSh, 'ez_orders_requests_total', { op: 'summary', code: '200' }),
  };
};

describe('SOA Proxy', () => {
  it("serves a call made in ez-bj for ez-sh's shard by ez-sh's service, through ez-sh's SOA Proxy", async () => {
    const before = await counts();
    const r = await summary('ez-bj', shOrder);
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ id: shOrder, shard: 1, state: 'placed', servedBy: 'ez-sh' });
    expect(r.headers['x-ez-zone']).toBe('ez-sh');
    expect(r.headers['x-ez-shard']).toBe('1');
    expect(r.headers['x-ez-soa-path']).toBe('ez-bj>ez-sh');
    const after = await counts();
    expect(after.bjRemote).toBe(before.bjRemote + 1);
    expect(after.shInbound).toBe(before.shInbound + 1);
    expect(after.appSh).toBe(before.appSh + 1);
    expect(after.appBj).toBe(before.appBj);
  });

  it('serves a call for a local shard locally', async () => {
    const before = await counts();
    const r = await summary('ez-bj', bjOrder);
    expect(r.status, r.text).toBe(200);
    expect(r.json.servedBy).toBe('ez-bj');
    expect(r.headers['x-ez-soa-path']).toBe('ez-bj');
    const after = await counts();
    expect(after.appBj).toBe(before.appBj + 1);
    expect(after.bjRemote).toBe(before.bjRemote);
  });

  it('goes between eZones only through the named link: slowed, it is slower; cut, it is 503 and never served locally', async () => {
    await set.fault('ez-bj', 'ez-sh', 'slow 200ms');
    try {
      const t0 = performance.now();
      const slow = await summary('ez-bj', shOrder);
      const slowMs = performance.now() - t0;
      expect(slow.status).toBe(200);
      expect(slowMs).toBeGreaterThanOrEqual(190);
      // the local path does not use the link: it does not pay the 200 ms
      const t1 = performance.now();
      expect((await summary('ez-bj', bjOrder)).status).toBe(200);
      expect(performance.now() - t1).toBeLessThan(slowMs - 100);
    } finally {
      await set.heal('ez-bj', 'ez-sh');
    }
    const before = await counts();
    await set.fault('ez-bj', 'ez-sh', 'partition refuse');
    try {
      const cut = await summary('ez-bj', shOrder);
      expect(cut.status).toBe(503);
      expect(cut.json.error.code).toBe('EZ_ZONE_UNAVAILABLE');
      expect(cut.json.error.message).toMatch(/eZone ez-sh unreachable/);
      const after = await counts();
      expect(after.appBj).toBe(before.appBj);
    } finally {
      await set.heal('ez-bj', 'ez-sh');
    }
    expect((await summary('ez-bj', shOrder)).status).toBe(200);
  });

  it('answers 421 to a forwarded call for a shard it does not own, without forwarding it again', async () => {
    const before = await counts();
    const r = await summary('ez-sh', bjOrder, { 'X-Ez-Via': 'ez-bj' });
    expect(r.status).toBe(421);
    expect(r.json.error.code).toBe('EZ_WRONG_ZONE');
    expect(r.json.error.message).toMatch(/never forwarded again/);
    const after = await counts();
    expect(after.bjInbound).toBe(before.bjInbound);
    expect(after.appBj).toBe(before.appBj);
  });

  it('answers 400 EZ_BAD_ROUTE for a call without a usable tag', async () => {
    const r = await http(`${s.soas['ez-bj'].url}/internal/orders/${shOrder}/summary`);
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('EZ_BAD_ROUTE');
    const bad = await http(`${s.soas['ez-bj'].url}/internal/orders/1/summary`, {
      headers: { 'X-Ez-Route': 'geo=200,1' },
    });
    expect(bad.status).toBe(400);
  });

  it('exposes /healthz with its eZone and peers, and /metrics', async () => {
    const h = await http(`${s.soas['ez-bj'].url}/healthz`);
    expect(h.status).toBe(200);
    expect(h.json).toMatchObject({ ok: true, part: 'soa', zone: 'ez-bj' });
    expect(h.json.peers['ez-sh']).toBe(`http://${set.address('ez-bj', 'ez-sh', 'soa')}`);
  });
});
