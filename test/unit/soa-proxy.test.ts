/**
 * SOA Proxy logic in-process: two proxies (ez-bj, ez-sh) over static routing sources, with small
 * HTTP servers standing in for each eZone's service. Local vs remote, loop prevention, a stale
 * proxy corrected by a 421 from its peer, the path header, X-Forwarded-For across two proxies.
 */
import { once } from 'node:events';
import { createServer, get as httpGet, type IncomingMessage, type Server } from 'node:http';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayServer } from '../../src/router/server.js';
import type { RoutingTable } from '../../src/routing/index.js';
import { StaticRoutingSource } from '../../src/sdk/static.js';
import { startSoaProxy } from '../../src/soa/index.js';
import { loadTopology } from '../../src/topology/index.js';

const topology = loadTopology();
const SHANGHAI = 'geo=31.2304,121.4737';
const BEIJING = 'geo=39.9042,116.4074';

class MovableSource extends StaticRoutingSource {
  next: RoutingTable | undefined;
  override async refresh(): Promise<boolean> {
    if (!this.next) return false;
    this.setTable(this.next);
    this.next = undefined;
    return true;
  }
}

interface Svc {
  server: Server;
  origin: string;
  seen: IncomingMessage['headers'][];
}

async function service(zone: string): Promise<Svc> {
  const svc = { seen: [] as IncomingMessage['headers'][] } as Svc;
  svc.server = createServer((req, res) => {
    svc.seen.push(req.headers);
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ servedBy: zone }));
  });
  svc.server.listen(0, '127.0.0.1');
  await once(svc.server, 'listening');
  svc.origin = `http://127.0.0.1:${(svc.server.address() as { port: number }).port}`;
  return svc;
}

let bjSource: MovableSource;
let shSource: MovableSource;
let bjSvc: Svc;
let shSvc: Svc;
let bj: GatewayServer;
let sh: GatewayServer;

beforeAll(async () => {
  process.env.EZ_LOG_LEVEL = 'silent';
  bjSource = new MovableSource(StaticRoutingSource.fromTopology(topology).resolver);
  shSource = new MovableSource(StaticRoutingSource.fromTopology(topology).resolver);
  bjSvc = await service('ez-bj');
  shSvc = await service('ez-sh');
  const common = { accessLog: { mode: 'off' as const, sample: 0 } };
  // each proxy needs the other's address: start sh with a placeholder peer, then bj, then sh for real
  sh = await startSoaProxy({
    ...common,
    zone: 'ez-sh',
    source: shSource,
    service: [shSvc.origin],
    peers: {},
  });
  bj = await startSoaProxy({
    ...common,
    zone: 'ez-bj',
    source: bjSource,
    service: [bjSvc.origin],
    peers: { 'ez-sh': sh.url },
  });
  await sh.close();
  sh = await startSoaProxy({
    ...common,
    zone: 'ez-sh',
    source: shSource,
    service: [shSvc.origin],
    peers: { 'ez-bj': bj.url },
  });
  // bj's peer address must follow sh's new port
  await bj.close();
  bj = await startSoaProxy({
    ...common,
    zone: 'ez-bj',
    source: bjSource,
    service: [bjSvc.origin],
    peers: { 'ez-sh': sh.url },
  });
});

afterAll(async () => {
  await bj?.close();
  await sh?.close();
  bjSvc?.server.close();
  shSvc?.server.close();
});

afterEach(() => {
  bjSvc.seen.length = 0;
  shSvc.seen.length = 0;
});

async function call(proxy: GatewayServer, headers: Record<string, string>) {
  const res = await request(`${proxy.url}/internal/ping`, { headers });
  return { status: res.statusCode, headers: res.headers, json: (await res.body.json()) as any };
}

function moved(source: StaticRoutingSource, shard: number, zone: string): RoutingTable {
  const t = structuredClone(source.table);
  t.epoch = source.epoch + 1;
  t.shards[shard] = { zone, state: 'serving' };
  return t;
}

describe('SOA Proxy', () => {
  it('serves a local shard locally and a remote shard through the owner eZone SOA Proxy', async () => {
    const local = await call(bj, { 'X-Ez-Route': BEIJING });
    expect(local.json.servedBy).toBe('ez-bj');
    expect(local.headers['x-ez-soa-path']).toBe('ez-bj');
    const remote = await call(bj, { 'X-Ez-Route': SHANGHAI });
    expect(remote.json.servedBy).toBe('ez-sh');
    expect(remote.headers['x-ez-zone']).toBe('ez-sh');
    expect(remote.headers['x-ez-soa-path']).toBe('ez-bj>ez-sh');
    // ez-sh's service got the decision, and no X-Ez-Via (that header is between proxies only)
    expect(shSvc.seen).toHaveLength(1);
    expect(shSvc.seen[0]['x-ez-shard']).toBe('1');
    expect(shSvc.seen[0]['x-ez-via']).toBeUndefined();
    expect(bjSvc.seen).toHaveLength(1);
  });

  it('adds each hop to X-Forwarded-For and Forwarded: the caller, then the calling eZone SOA Proxy', async () => {
    // the caller comes from 127.0.0.2, so its address differs from the proxies' own (127.0.0.1)
    const res = await new Promise<IncomingMessage>((resolve, reject) =>
      httpGet(
        `${bj.url}/internal/ping`,
        { headers: { 'X-Ez-Route': SHANGHAI }, localAddress: '127.0.0.2' },
        resolve,
      ).on('error', reject),
    );
    res.resume();
    expect(res.statusCode).toBe(200);
    expect(shSvc.seen).toHaveLength(1);
    expect(shSvc.seen[0]['x-forwarded-for']).toBe('127.0.0.2, 127.0.0.1');
    expect(shSvc.seen[0].forwarded).toBe('for=127.0.0.2;proto=http, for=127.0.0.1;proto=http');
    expect(shSvc.seen[0]['x-forwarded-proto']).toBe('http');
  });

  it('never forwards a forwarded call again: 421 EZ_WRONG_ZONE', async () => {
    const r = await call(sh, { 'X-Ez-Route': BEIJING, 'X-Ez-Via': 'ez-bj' });
    expect(r.status).toBe(421);
    expect(r.json.error.code).toBe('EZ_WRONG_ZONE');
    expect(bjSvc.seen.length + shSvc.seen.length).toBe(0);
  });

  it('a proxy with a stale table is corrected by the peer 421 and serves at the new owner, once', async () => {
    // shard 1 moved to ez-bj: ez-sh knows, ez-bj does not yet (its refresh() will bring it)
    shSource.setTable(moved(shSource, 1, 'ez-bj'));
    bjSource.next = moved(bjSource, 1, 'ez-bj');
    const r = await call(bj, { 'X-Ez-Route': SHANGHAI });
    expect(r.status).toBe(200);
    expect(r.json.servedBy).toBe('ez-bj');
    expect(r.headers['x-ez-soa-path']).toBe('ez-bj');
    expect(shSvc.seen).toHaveLength(0);
    expect(bjSource.table.shards[1].zone).toBe('ez-bj');
    // back to the topology's owner, on both
    shSource.setTable(moved(shSource, 1, 'ez-sh'));
    bjSource.setTable(moved(bjSource, 1, 'ez-sh'));
  });

  it('waits for the epoch a peer decided with before judging a forwarded call', async () => {
    // shard 0 moves to ez-sh; ez-bj learns it first and forwards with its (newer) epoch
    bjSource.setTable(moved(bjSource, 0, 'ez-sh'));
    const pending = call(bj, { 'X-Ez-Route': BEIJING });
    // ez-sh gets the same table a little later: the forwarded call waits for it instead of a 421
    setTimeout(() => shSource.setTable(moved(shSource, 0, 'ez-sh')), 50);
    const r = await pending;
    expect(r.status).toBe(200);
    expect(r.json.servedBy).toBe('ez-sh');
    expect(r.headers['x-ez-soa-path']).toBe('ez-bj>ez-sh');
    shSource.setTable(moved(shSource, 0, 'ez-bj'));
    bjSource.setTable(moved(bjSource, 0, 'ez-bj'));
  });

  it('answers 503 EZ_ZONE_UNAVAILABLE when no peer address is configured, and 400 for a bad tag', async () => {
    const lonely = await startSoaProxy({
      zone: 'ez-bj',
      source: bjSource,
      service: [bjSvc.origin],
      peers: {},
      accessLog: { mode: 'off', sample: 0 },
    });
    try {
      const r = await call(lonely, { 'X-Ez-Route': SHANGHAI });
      expect(r.status).toBe(503);
      expect(r.json.error.code).toBe('EZ_ZONE_UNAVAILABLE');
      const bad = await call(lonely, { 'X-Ez-Route': 'geo=1' });
      expect(bad.status).toBe(400);
      expect(bad.json.error.code).toBe('EZ_BAD_ROUTE');
    } finally {
      await lonely.close();
    }
  });
});
