/**
 * `ezctl up` (the launcher's up()) on two-zones, free ports: it starts the order service and the
 * SOA Proxy of every eZone and one APIRouter, after GZS, MariaDB and Redis; they route from GZS;
 * `down` stops them. Needs the build (`npx tsc -p .`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EDGE, gzsUrlFrom, linkListenPort } from '../../src/topology/index.js';
import { startZoneCluster, type ZoneCluster } from '../helpers/zone-cluster.js';
import { BEIJING, http, SHANGHAI, until } from './router-stack.js';

let cluster: ZoneCluster;

beforeAll(async () => {
  cluster = await startZoneCluster();
});

afterAll(async () => {
  await cluster?.down();
});

describe('ezctl up with the traffic parts', () => {
  it('starts orders and soa per eZone and one router, all alive and ready, on the topology ports', async () => {
    const s = await cluster.status();
    const byName = new Map(s.processes.map((p) => [p.name, p]));
    const { deployment } = cluster.topology;
    for (const z of ['ez-bj', 'ez-sh']) {
      expect(byName.get(`orders@${z}`)).toMatchObject({
        alive: true,
        ready: true,
        port: deployment.zones[z].ports.orders,
      });
      expect(byName.get(`soa@${z}`)).toMatchObject({
        alive: true,
        ready: true,
        port: deployment.zones[z].ports.soa,
      });
    }
    expect(byName.get('router')).toMatchObject({ alive: true, ready: true, port: deployment.router.port });
    // each part reaches GZS as its site does: the router (edge) and ez-sh through their links, ez-bj (GZS's site) directly
    const t = cluster.topology;
    expect(byName.get('router')!.endpoints.gzs).toBe(gzsUrlFrom(t, true, EDGE));
    expect(byName.get('router')!.endpoints.gzs).toBe(
      `http://127.0.0.1:${linkListenPort(t, EDGE, 'ez-bj', 'gzs')}`,
    );
    expect(byName.get('soa@ez-sh')!.endpoints.gzs).toBe(
      `http://127.0.0.1:${linkListenPort(t, 'ez-sh', 'ez-bj', 'gzs')}`,
    );
    expect(byName.get('soa@ez-bj')!.endpoints.gzs).toBe(`http://127.0.0.1:${deployment.gzs.port}`);
  });

  it('routes through the router and across eZones through the SOA Proxies, from GZS', async () => {
    const { deployment } = cluster.topology;
    const router = `http://127.0.0.1:${deployment.router.port}`;
    const sh = await http(`${router}/orders`, {
      body: { user: 'u-up', merchant: 'm-up', amountCents: 100 },
      headers: { 'X-Ez-Route': SHANGHAI },
    });
    expect(sh.status, sh.text).toBe(201);
    expect(sh.headers['x-ez-zone']).toBe('ez-sh');
    const bj = await http(`${router}/orders`, {
      body: { user: 'u-up', merchant: 'm-up', amountCents: 100 },
      headers: { 'X-Ez-Route': BEIJING },
    });
    expect(bj.headers['x-ez-zone']).toBe('ez-bj');
    const id = sh.json.order.id;
    const soa = await http(
      `http://127.0.0.1:${deployment.zones['ez-bj'].ports.soa}/internal/orders/${id}/summary`,
      {
        headers: { 'X-Ez-Route': `order=${id}` },
      },
    );
    expect(soa.status, soa.text).toBe(200);
    expect(soa.json.servedBy).toBe('ez-sh');
    expect(soa.headers['x-ez-soa-path']).toBe('ez-bj>ez-sh');
    const health = await http(`${router}/healthz`);
    expect(health.json.epoch).toBeGreaterThanOrEqual(1);
    expect(health.json.staleMs).toBeLessThan(5000); // connected to GZS
    // with DRC running (ezctl up starts it), the order reaches ez-bj's copy; read it there
    const bjApp = `http://127.0.0.1:${deployment.zones['ez-bj'].ports.orders}`;
    expect(await until(async () => (await http(`${bjApp}/orders/${id}`)).status === 200, 10_000)).toBe(true);
  });

  it('stops them with down', async () => {
    const s = await cluster.status();
    const pids = s.processes.filter((p) => ['orders', 'soa', 'router'].includes(p.kind)).map((p) => p.pid);
    expect(pids).toHaveLength(5);
    const result = await cluster.down();
    expect(result.stopped.map((x) => x.name)).toEqual(
      expect.arrayContaining(['router', 'soa@ez-bj', 'orders@ez-sh']),
    );
    for (const pid of pids) {
      let alive = true;
      try {
        process.kill(pid, 0);
      } catch {
        alive = false;
      }
      expect(alive, `pid ${pid}`).toBe(false);
    }
  });
});
