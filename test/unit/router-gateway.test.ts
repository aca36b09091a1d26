/**
 * APIRouter's request path in-process, over a StaticRoutingSource whose table the test changes,
 * with small HTTP servers standing in for each eZone's services: geo/order routing, tag sources,
 * bad tags, lock hold, 421 retry with body replay, unreachable eZone, streaming, ops endpoints,
 * forwarding headers (X-Forwarded-For, Forwarded), WebSockets through the router (a real `ws`
 * server on each stand-in service, `ws` clients).
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { startApiRouter } from '../../src/router/index.js';
import type { GatewayServer } from '../../src/router/server.js';
import { encodeOrderId, type RoutingTable } from '../../src/routing/index.js';
import { StaticRoutingSource } from '../../src/sdk/static.js';
import { loadTopology } from '../../src/topology/index.js';

const BEIJING = 'geo=39.9042,116.4074';
const SHANGHAI = 'geo=31.2304,121.4737';

/** A routing source whose refresh() installs the next table (what GZS would answer after a move). */
class MovableSource extends StaticRoutingSource {
  next: RoutingTable | undefined;
  refreshes = 0;
  override async refresh(): Promise<boolean> {
    this.refreshes++;
    if (!this.next) return false;
    this.setTable(this.next);
    this.next = undefined;
    return true;
  }
}

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  bodyBytes: number;
  bodySha: string;
}

/** A stand-in eZone service: records what it got, answers JSON with its eZone; `answer` overrides. */
interface FakeService {
  zone: string;
  server: Server;
  origin: string;
  seen: Seen[];
  answer?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** WebSocket upgrade requests it accepted (headers), and the close codes/reasons its sockets saw */
  upgrades: { url: string; headers: IncomingMessage['headers'] }[];
  wsClosed: { code: number; reason: string }[];
  /** a WebSocket it accepted, after its greeting */
  onSocket?: (ws: WebSocket) => void;
}

async function fakeService(zone: string): Promise<FakeService> {
  const svc: FakeService = {
    zone,
    server: undefined as unknown as Server,
    origin: '',
    seen: [],
    upgrades: [],
    wsClosed: [],
  };
  svc.server = createServer((req, res) => {
    // APIRouter's reach probe (zone-probe.ts), not a routed request: never seen by a test's answer
    if (req.url === '/healthz' && req.headers['x-ez-route'] === undefined) {
      res.end('{"ok":true}');
      return;
    }
    if (svc.answer?.(req, res)) return;
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      hash.update(c);
    });
    req.on('end', () => {
      const seen = {
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        bodyBytes: bytes,
        bodySha: hash.digest('hex'),
      };
      svc.seen.push(seen);
      const body = JSON.stringify({ servedBy: zone, ...seen });
      res.writeHead(200, { 'content-type': 'application/json', 'x-ez-zone': 'spoofed-by-service' });
      res.end(body);
    });
  });
  // a real WebSocket server on the same port: greets, echoes, records how each socket closed
  const wss = new WebSocketServer({ noServer: true });
  svc.server.on('upgrade', (req, socket, head) => {
    svc.upgrades.push({ url: req.url!, headers: req.headers });
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (m) => ws.send(`echo ${zone}: ${m}`));
      ws.on('close', (code, reason) => svc.wsClosed.push({ code, reason: reason.toString() }));
      ws.send(`hello from ${zone}`);
      svc.onSocket?.(ws);
    });
  });
  svc.server.listen(0, '127.0.0.1');
  await once(svc.server, 'listening');
  svc.origin = `http://127.0.0.1:${(svc.server.address() as { port: number }).port}`;
  return svc;
}

/** Resolves once `check()` holds; rejects after `timeoutMs` (tests wait for a condition, never assert a duration). */
async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * The messages of `ws` as text, in order, from the moment it is created (a greeting can come in the
 * same read as the 101, before an `await` after 'upgrade' would listen): `next()` takes the next one.
 */
function inbox(ws: WebSocket): { next(): Promise<string> } {
  const got: string[] = [];
  const waiters: ((m: string) => void)[] = [];
  ws.on('message', (m) => {
    const w = waiters.shift();
    if (w) w(String(m));
    else got.push(String(m));
  });
  return {
    next() {
      const m = got.shift();
      if (m !== undefined) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no WebSocket message within 3 s')), 3000);
        waiters.push((msg) => {
          clearTimeout(t);
          resolve(msg);
        });
      });
    },
  };
}

const topology = loadTopology();
let source: MovableSource;
let bj: FakeService;
let sh: FakeService;
let router: GatewayServer;
let deadOrigin: string;

beforeAll(async () => {
  process.env.EZ_LOG_LEVEL = 'silent';
  source = new MovableSource(StaticRoutingSource.fromTopology(topology).resolver);
  bj = await fakeService('ez-bj');
  sh = await fakeService('ez-sh');
  // a port nothing listens on: the "unreachable eZone"
  const tmp = createServer();
  tmp.listen(0, '127.0.0.1');
  await once(tmp, 'listening');
  deadOrigin = `http://127.0.0.1:${(tmp.address() as { port: number }).port}`;
  await new Promise((r) => tmp.close(r));
  router = await startApiRouter({
    source,
    upstreams: { 'ez-bj': [bj.origin], 'ez-sh': [sh.origin] },
    lockWaitMs: 300,
    accessLog: { mode: 'off', sample: 0 },
  });
});

afterAll(async () => {
  await router?.close();
  bj?.server.close();
  sh?.server.close();
});

const initial = () => StaticRoutingSource.fromTopology(topology).table;

afterEach(() => {
  bj.answer = undefined;
  sh.answer = undefined;
  bj.seen.length = 0;
  sh.seen.length = 0;
  for (const s of [bj, sh]) {
    s.upgrades.length = 0;
    s.wsClosed.length = 0;
    s.onSocket = undefined;
  }
  source.next = undefined;
  source.setTable({ ...initial(), epoch: source.epoch + 1 });
});

async function call(
  path: string,
  headers: Record<string, string> = {},
  body?: string | Buffer,
  method?: string,
) {
  const res = await request(`${router.url}${path}`, {
    method: (method ?? (body ? 'POST' : 'GET')) as 'GET',
    headers,
    body,
  });
  const text = await res.body.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

/** The table with `shard` changed. */
function withShard(shard: number, entry: Partial<RoutingTable['shards'][string]>): RoutingTable {
  const t = structuredClone(source.table);
  t.epoch = source.epoch + 1;
  t.shards[shard] = { ...t.shards[shard], ...entry };
  return t;
}

describe('APIRouter routing', () => {
  it('routes Beijing and Shanghai geo tags to different eZones, with X-Ez-Zone/Shard/Epoch', async () => {
    const a = await call('/v1/ping', { 'X-Ez-Route': BEIJING });
    const b = await call('/v1/ping', { 'X-Ez-Route': SHANGHAI });
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.json.servedBy).toBe('ez-bj');
    expect(b.json.servedBy).toBe('ez-sh');
    expect(a.headers['x-ez-zone']).toBe('ez-bj');
    expect(b.headers['x-ez-zone']).toBe('ez-sh');
    expect(a.headers['x-ez-shard']).toBe('0');
    expect(b.headers['x-ez-shard']).toBe('1');
    expect(a.headers['x-ez-epoch']).toBe(String(source.epoch));
    expect(bj.seen).toHaveLength(1);
    expect(sh.seen).toHaveLength(1);
    // the decision is forwarded to the service
    expect(sh.seen[0].headers['x-ez-shard']).toBe('1');
    expect(sh.seen[0].headers['x-ez-epoch']).toBe(String(source.epoch));
    expect(sh.seen[0].headers['x-ez-route']).toBe(SHANGHAI);
  });

  it('routes an order= tag by the shard embedded in the id', async () => {
    for (const [shard, zone] of [
      [1, 'ez-sh'],
      [0, 'ez-bj'],
      [7, 'ez-bj'],
      [36, 'ez-sh'],
    ] as const) {
      const id = encodeOrderId({ timestampMs: Date.now(), shard, sequence: 5 });
      const r = await call(`/orders/${id}`, { 'X-Ez-Route': `order=${id}` });
      expect(r.status).toBe(200);
      expect(r.json.servedBy).toBe(zone);
      expect(r.headers['x-ez-shard']).toBe(String(shard));
    }
  });

  it('takes the tag from the cookie or the query when there is no header, and forwards it as X-Ez-Route', async () => {
    const c = await call('/x', { cookie: `a=b; ez_route=${encodeURIComponent(SHANGHAI)}` });
    expect(c.json.servedBy).toBe('ez-sh');
    expect(sh.seen[0].headers['x-ez-route']).toBe(SHANGHAI);
    const q = await call(`/x?foo=1&ez_route=${encodeURIComponent(BEIJING)}`);
    expect(q.json.servedBy).toBe('ez-bj');
    expect(bj.seen[0].url).toBe(`/x?foo=1&ez_route=${encodeURIComponent(BEIJING)}`);
    expect(bj.seen[0].headers['x-ez-route']).toBe(BEIJING);
  });

  it('replaces decision headers a client made up and drops hop-by-hop headers', async () => {
    const r = await call('/x', {
      'X-Ez-Route': SHANGHAI,
      'X-Ez-Shard': '0',
      'X-Ez-Epoch': '999',
      'X-Ez-Via': 'ez-bj',
      'proxy-connection': 'keep-alive',
      'x-custom': 'kept',
    });
    expect(r.json.servedBy).toBe('ez-sh');
    const h = sh.seen[0].headers;
    expect(h['x-ez-shard']).toBe('1');
    expect(h['x-ez-epoch']).toBe(String(source.epoch));
    expect(h['x-ez-via']).toBeUndefined();
    expect(h['proxy-connection']).toBeUndefined();
    expect(h['x-custom']).toBe('kept');
    // the service's own X-Ez-Zone is replaced by the router's
    expect(r.headers['x-ez-zone']).toBe('ez-sh');
  });

  it.each([
    ['no tag at all', {}, /no routing tag/],
    ['malformed geo', { 'X-Ez-Route': 'geo=abc' }, /geo: "abc" is not lat,lng/],
    ['point outside every fence', { 'X-Ez-Route': 'geo=0,0' }, /outside every fence/],
    ['unknown key', { 'X-Ez-Route': 'city=beijing' }, /unknown key "city"/],
    ['bad order id', { 'X-Ez-Route': 'order=12x' }, /not a decimal order id/],
    ['shard not in the table', { 'X-Ez-Route': 'shard=999' }, /shard 999 is not in the routing table/],
    ['unknown merchant', { 'X-Ez-Route': 'merchant=m-nope' }, /merchant "m-nope" is not in the key table/],
  ])('answers 400 EZ_BAD_ROUTE for %s', async (_what, headers, message) => {
    const r = await call('/x', headers as Record<string, string>);
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('EZ_BAD_ROUTE');
    expect(r.json.error.message).toMatch(message);
    expect(bj.seen.length + sh.seen.length).toBe(0);
  });

  it('answers 400 for a malformed cookie tag and two X-Ez-Route headers', async () => {
    const c = await call('/x', { cookie: 'ez_route=geo%3Dabc' });
    expect(c.status).toBe(400);
    expect(c.json.error.message).toMatch(/^cookie ez_route: /);
    const res = await request(`${router.url}/x`, {
      headers: ['X-Ez-Route', BEIJING, 'X-Ez-Route', SHANGHAI],
    });
    expect(res.statusCode).toBe(400);
    expect(((await res.body.json()) as any).error.message).toMatch(/2 X-Ez-Route header values/);
  });
});

describe('APIRouter locks', () => {
  it('holds a request for a locked shard, then answers 503 EZ_LOCKED with Retry-After', async () => {
    source.setTable(withShard(1, { state: 'locked' }));
    const held = async () =>
      Number(
        /ez_router_lock_holds_total\{outcome="timeout"[^}]*\} (\d+)/.exec(
          await (await request(`${router.url}/metrics`)).body.text(),
        )?.[1] ?? 0,
      );
    const before = await held();
    const r = await call('/x', { 'X-Ez-Route': SHANGHAI });
    expect(r.status).toBe(503);
    expect(r.json.error.code).toBe('EZ_LOCKED');
    expect(r.json.error.message).toMatch(
      /^EZ_LOCKED shard=1 epoch=\d+ \(switch under way\); held \d+ ms, retry shortly$/,
    );
    expect(r.headers['retry-after']).toBe('1');
    expect(r.headers['x-ez-shard']).toBe('1');
    // held until lockWaitMs ran out (counted as a hold that timed out), not refused at once
    expect(await held()).toBe(before + 1);
    expect(sh.seen).toHaveLength(0);
    // other shards keep flowing
    expect((await call('/x', { 'X-Ez-Route': BEIJING })).status).toBe(200);
  });

  it('holds a write for a locked order (routed by its id) the same way; reads of it pass', async () => {
    const id = encodeOrderId({ timestampMs: Date.UTC(2026, 5, 1), shard: 1, sequence: 7 });
    const t = structuredClone(source.table);
    t.epoch = source.epoch + 1;
    t.orderLocks[id] = { reason: 'failover ez-bj->ez-sh epoch 9', since: Date.now() };
    source.setTable(t);
    const seen = sh.seen.length;
    const w = await call(`/orders/${id}/accept`, { 'X-Ez-Route': `order=${id}` }, '{}');
    expect(w.status).toBe(503);
    expect(w.json.error.message).toMatch(
      new RegExp(`^EZ_LOCKED order=${id} epoch=\\d+ \\(failover ez-bj->ez-sh epoch 9\\)`),
    );
    expect(sh.seen.length).toBe(seen); // never reached the service
    const r = await call(`/orders/${id}`, { 'X-Ez-Route': `order=${id}` });
    expect(r.status).toBe(200);
    // another order of the same shard is not held
    const other = encodeOrderId({ timestampMs: Date.UTC(2026, 5, 1), shard: 1, sequence: 8 });
    expect((await call(`/orders/${other}/accept`, { 'X-Ez-Route': `order=${other}` }, '{}')).status).toBe(
      200,
    );
  });

  it('lets a held request through when the lock clears within lockWaitMs, at the new owner', async () => {
    source.setTable(withShard(1, { state: 'locked' }));
    const pending = call('/x', { 'X-Ez-Route': SHANGHAI });
    await new Promise((r) => setTimeout(r, 100));
    // still held: nothing reached any service
    expect(sh.seen.length + bj.seen.length).toBe(0);
    source.setTable(withShard(1, { state: 'serving', zone: 'ez-bj' }));
    const r = await pending;
    expect(r.status).toBe(200);
    expect(r.json.servedBy).toBe('ez-bj');
    expect(r.headers['x-ez-epoch']).toBe(String(source.epoch));
  });
});

describe('APIRouter 421', () => {
  const answer421 =
    (readBody: boolean) =>
    (req: IncomingMessage, res: ServerResponse): boolean => {
      const send = () => {
        res.writeHead(421, { 'content-type': 'application/json', 'x-ez-epoch': String(source.epoch + 1) });
        res.end(JSON.stringify({ error: { code: 'EZ_WRONG_ZONE', message: 'not mine' } }));
      };
      if (readBody) req.on('end', send).resume();
      else send(); // before reading the body, as the order service does
      return true;
    };

  it('refreshes the table and retries once at the new owner', async () => {
    sh.answer = answer421(true);
    source.next = withShard(1, { zone: 'ez-bj' });
    const before = source.refreshes;
    const r = await call('/x', { 'X-Ez-Route': SHANGHAI });
    expect(r.status).toBe(200);
    expect(r.json.servedBy).toBe('ez-bj');
    expect(r.headers['x-ez-zone']).toBe('ez-bj');
    expect(source.refreshes).toBe(before + 1);
  });

  it('replays a small body after a 421 sent before the body was read', async () => {
    sh.answer = answer421(false);
    source.next = withShard(1, { zone: 'ez-bj' });
    const body = Buffer.alloc(40_000, 7);
    const r = await call(
      '/orders',
      { 'X-Ez-Route': SHANGHAI, 'content-type': 'application/octet-stream' },
      body,
    );
    expect(r.status).toBe(200);
    expect(r.json.servedBy).toBe('ez-bj');
    expect(r.json.bodyBytes).toBe(body.length);
    expect(r.json.bodySha).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('retries only once: a second 421 goes to the client', async () => {
    sh.answer = answer421(true);
    bj.answer = answer421(true);
    source.next = withShard(1, { zone: 'ez-bj' });
    const r = await call('/x', { 'X-Ez-Route': SHANGHAI });
    expect(r.status).toBe(421);
    expect(r.json.error.code).toBe('EZ_WRONG_ZONE');
  });

  it('passes the 421 through when the body is too big to replay', async () => {
    sh.answer = answer421(true);
    source.next = withShard(1, { zone: 'ez-bj' });
    const r = await call('/orders', { 'X-Ez-Route': SHANGHAI }, Buffer.alloc(200_000, 1));
    expect(r.status).toBe(421);
    expect(bj.seen).toHaveLength(0);
    const metrics = await (await request(`${router.url}/metrics`)).body.text();
    expect(metrics).toMatch(/ez_router_retries_total\{outcome="retried",part="router"\} \d+/);
  });
});

describe('APIRouter 503 judged at a newer epoch', () => {
  const answerLocked =
    (epoch: () => number) =>
    (req: IncomingMessage, res: ServerResponse): boolean => {
      req
        .on('end', () => {
          res.writeHead(503, { 'content-type': 'application/json', 'x-ez-epoch': String(epoch()) });
          res.end(JSON.stringify({ error: { code: 'EZ_LOCKED', message: 'EZ_LOCKED shard=1' } }));
        })
        .resume();
      return true;
    };

  it('holds a request the eZone refused for a lock APIRouter had not heard of, then sends it to the new owner', async () => {
    const lockedAt = source.epoch + 1;
    sh.answer = answerLocked(() => lockedAt);
    source.next = { ...withShard(1, { state: 'locked' }), epoch: lockedAt };
    const t0 = Date.now();
    const p = call('/orders', { 'X-Ez-Route': SHANGHAI }, Buffer.from('{"a":1}'));
    await new Promise((r) => setTimeout(r, 150));
    source.setTable({ ...withShard(1, { state: 'serving', zone: 'ez-bj' }), epoch: lockedAt + 1 });
    const r = await p;
    expect(r.status).toBe(200);
    expect(r.json.servedBy).toBe('ez-bj');
    expect(r.json.bodyBytes).toBe(7);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140); // it was held until the switch
  });

  it('passes a 503 through when the eZone judged with the table APIRouter holds', async () => {
    sh.answer = answerLocked(() => source.epoch);
    const r = await call('/x', { 'X-Ez-Route': SHANGHAI });
    expect(r.status).toBe(503);
    expect(r.json.error.code).toBe('EZ_LOCKED');
  });
});

describe('APIRouter unreachable eZone', () => {
  it('answers 503 EZ_ZONE_UNAVAILABLE when the eZone does not answer, never another eZone', async () => {
    const r2 = await startApiRouter({
      source,
      upstreams: { 'ez-bj': [bj.origin], 'ez-sh': [deadOrigin] },
      accessLog: { mode: 'off', sample: 0 },
    });
    try {
      const res = await request(`${r2.url}/x`, { headers: { 'X-Ez-Route': SHANGHAI } });
      const json = (await res.body.json()) as any;
      expect(res.statusCode).toBe(503);
      expect(json.error.code).toBe('EZ_ZONE_UNAVAILABLE');
      expect(json.error.message).toMatch(/eZone ez-sh unreachable/);
      expect(bj.seen).toHaveLength(0);
    } finally {
      await r2.close();
    }
  });

  it('tries the other instances of the same eZone when one refuses connections', async () => {
    const r2 = await startApiRouter({
      source,
      upstreams: { 'ez-bj': [bj.origin], 'ez-sh': [deadOrigin, sh.origin] },
      accessLog: { mode: 'off', sample: 0 },
    });
    try {
      for (let i = 0; i < 4; i++) {
        const res = await request(`${r2.url}/x`, { headers: { 'X-Ez-Route': SHANGHAI } });
        expect(res.statusCode).toBe(200);
        await res.body.dump();
      }
      expect(sh.seen).toHaveLength(4);
    } finally {
      await r2.close();
    }
  });

  it('answers 503 at once when the eZone is down in the table', async () => {
    const t = structuredClone(source.table);
    t.epoch++;
    t.zones['ez-sh'] = { state: 'down' };
    source.setTable(t);
    const r = await call('/x', { 'X-Ez-Route': SHANGHAI });
    expect(r.status).toBe(503);
    expect(r.json.error.code).toBe('EZ_ZONE_UNAVAILABLE');
    expect(r.json.error.message).toMatch(/ez-sh .* is down/);
    expect(bj.seen.length + sh.seen.length).toBe(0);
  });
});

describe('APIRouter streaming and ops', () => {
  it('streams a large request body and a large answer through', async () => {
    const body = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4096) body[i] = i & 0xff;
    const r = await call('/upload', { 'X-Ez-Route': BEIJING }, body, 'PUT');
    expect(r.status).toBe(200);
    expect(r.json.bodyBytes).toBe(body.length);
    expect(r.json.bodySha).toBe(createHash('sha256').update(body).digest('hex'));

    bj.answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      let n = 0;
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = (): void => {
        while (n < 256) {
          n++;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
      return true;
    };
    const big = await request(`${router.url}/download`, { headers: { 'X-Ez-Route': BEIJING } });
    let got = 0;
    for await (const c of big.body) got += (c as Buffer).length;
    expect(big.statusCode).toBe(200);
    expect(got).toBe(256 * 64 * 1024);
  });

  it('serves /healthz and /metrics with requests by zone, shard and code', async () => {
    await call('/x', { 'X-Ez-Route': BEIJING });
    const h = await call('/healthz');
    expect(h.status).toBe(200);
    expect(h.json).toMatchObject({ ok: true, part: 'router', epoch: source.epoch });
    const m = await call('/metrics');
    expect(m.text).toMatch(
      /ez_router_requests_total\{zone="ez-bj",shard="0",code="200",route="zone",part="router"\} \d+/,
    );
    expect(m.text).toMatch(
      /ez_router_requests_total\{zone="",shard="",code="400",route="none",part="router"\} \d+/,
    );
    expect(m.text).toMatch(
      /ez_router_request_duration_seconds_bucket\{le="0.001",zone="ez-bj",route="zone",part="router"\} \d+/,
    );
    expect(m.text).toMatch(/ez_router_routing_epoch\{part="router"\} \d+/);
    expect(m.text).toMatch(/ez_router_in_flight_requests\{part="router"\} 0/);
  });
});

describe('APIRouter forwarding headers', () => {
  /** the raw header lines the service got for one request */
  async function rawHeadersOf(url: string, headers: string[]): Promise<string[]> {
    let raw: string[] = [];
    bj.answer = (req, res) => {
      raw = req.rawHeaders;
      res.writeHead(204).end();
      return true;
    };
    const res = await request(url, { headers });
    await res.body.dump();
    expect(res.statusCode).toBe(204);
    return raw;
  }
  /** the values of header `name` (lower-case), one per line the service got */
  const valuesOf = (raw: string[], name: string) => {
    const out: string[] = [];
    for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === name) out.push(raw[i + 1]);
    return out;
  };

  it('adds the client address: X-Forwarded-For, X-Forwarded-Proto and an RFC 7239 Forwarded element', async () => {
    const raw = await rawHeadersOf(`${router.url}/x`, ['X-Ez-Route', BEIJING]);
    expect(valuesOf(raw, 'x-forwarded-for')).toEqual(['127.0.0.1']);
    expect(valuesOf(raw, 'x-forwarded-proto')).toEqual(['http']);
    expect(valuesOf(raw, 'forwarded')).toEqual(['for=127.0.0.1;proto=http']);
  });

  it('appends to the X-Forwarded-For and Forwarded a client sent (as one line each), keeps its X-Forwarded-Proto', async () => {
    const raw = await rawHeadersOf(`${router.url}/x`, [
      'X-Ez-Route',
      BEIJING,
      'X-Forwarded-For',
      '203.0.113.7',
      'x-forwarded-for',
      '198.51.100.2',
      'Forwarded',
      'for=203.0.113.7;proto=https',
      'X-Forwarded-Proto',
      'https',
    ]);
    expect(valuesOf(raw, 'x-forwarded-for')).toEqual(['203.0.113.7, 198.51.100.2, 127.0.0.1']);
    expect(valuesOf(raw, 'forwarded')).toEqual(['for=203.0.113.7;proto=https, for=127.0.0.1;proto=http']);
    expect(valuesOf(raw, 'x-forwarded-proto')).toEqual(['https']);
  });

  it('quotes an IPv6 client in Forwarded (RFC 7239 §6) and gives it bare in X-Forwarded-For', async () => {
    const r6 = await startApiRouter({
      source,
      host: '::1',
      upstreams: { 'ez-bj': [bj.origin], 'ez-sh': [sh.origin] },
      accessLog: { mode: 'off', sample: 0 },
    });
    try {
      const raw = await rawHeadersOf(`http://[::1]:${r6.port}/x`, ['X-Ez-Route', BEIJING]);
      expect(valuesOf(raw, 'x-forwarded-for')).toEqual(['::1']);
      expect(valuesOf(raw, 'forwarded')).toEqual(['for="[::1]";proto=http']);
    } finally {
      await r6.close();
    }
  });
});

describe('APIRouter WebSocket upgrades', () => {
  const wsUrl = (path: string) => `ws://127.0.0.1:${router.port}${path}`;

  /** ez_router metrics text */
  const metricsText = async () => (await (await request(`${router.url}/metrics`)).body.text()) as string;
  const metric = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  const UPGRADES_SH = /ez_router_upgrades_total\{zone="ez-sh",route="zone",part="router"\} (\d+)/;
  const OPEN = /ez_router_upgraded_connections\{part="router"\} (\d+)/;

  it('proxies a WebSocket routed by ?ez_route=: messages both ways, the client close reaches the service', async () => {
    const before = metric(await metricsText(), UPGRADES_SH);
    const ws = new WebSocket(wsUrl(`/rider/stream?ez_route=${encodeURIComponent(SHANGHAI)}`));
    const messages = inbox(ws);
    const [res] = (await once(ws, 'upgrade')) as [IncomingMessage];
    expect(res.statusCode).toBe(101);
    expect(res.headers['x-ez-zone']).toBe('ez-sh');
    expect(res.headers['x-ez-shard']).toBe('1');
    expect(await messages.next()).toBe('hello from ez-sh');
    ws.send('rider 7 at 31.23,121.47');
    expect(await messages.next()).toBe('echo ez-sh: rider 7 at 31.23,121.47');
    // the service got the decision, the tag (from the query) and the client address
    expect(sh.upgrades).toHaveLength(1);
    expect(bj.upgrades).toHaveLength(0);
    const h = sh.upgrades[0].headers;
    expect(h['x-ez-zone']).toBe('ez-sh');
    expect(h['x-ez-shard']).toBe('1');
    expect(h['x-ez-route']).toBe(SHANGHAI);
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    const during = await metricsText();
    expect(metric(during, UPGRADES_SH)).toBe(before + 1);
    expect(metric(during, OPEN)).toBe(1);

    ws.close(4001, 'rider offline');
    const [code] = await once(ws, 'close');
    expect(code).toBe(4001);
    await until(() => sh.wsClosed.length === 1, 'the service to see the close');
    expect(sh.wsClosed[0]).toEqual({ code: 4001, reason: 'rider offline' });
    await until(
      async () => metric(await metricsText(), OPEN) === 0,
      'the upgraded-connections gauge to go back to 0',
    );
  });

  it('routes a WebSocket by the X-Ez-Route header; a close from the service reaches the client', async () => {
    bj.onSocket = (s) => s.once('message', () => s.close(4002, 'shift over'));
    const ws = new WebSocket(wsUrl('/rider/stream'), { headers: { 'X-Ez-Route': BEIJING } });
    const messages = inbox(ws);
    expect(await messages.next()).toBe('hello from ez-bj');
    ws.send('bye?');
    const [code, reason] = await once(ws, 'close');
    expect(code).toBe(4002);
    expect(String(reason)).toBe('shift over');
    expect(bj.upgrades).toHaveLength(1);
    expect(sh.upgrades).toHaveLength(0);
  });

  it('answers an upgrade with a bad tag 400 EZ_BAD_ROUTE, and nothing reaches a service', async () => {
    const ws = new WebSocket(wsUrl(`/rider/stream?ez_route=${encodeURIComponent('geo=0,0')}`));
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
    let body = '';
    for await (const c of res) body += c;
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(body).error).toMatchObject({ code: 'EZ_BAD_ROUTE' });
    expect(JSON.parse(body).error.message).toMatch(/outside every fence/);
    ws.on('error', () => undefined); // terminate() of a socket the server refused reports an error
    ws.terminate();
    expect(bj.upgrades.length + sh.upgrades.length).toBe(0);
  });

  it('holds an upgrade for a locked shard and sends it to the new owner once the lock clears', async () => {
    source.setTable(withShard(1, { state: 'locked' }));
    const ws = new WebSocket(wsUrl('/rider/stream'), { headers: { 'X-Ez-Route': SHANGHAI } });
    const greeting = inbox(ws).next();
    await new Promise((r) => setTimeout(r, 100));
    expect(bj.upgrades.length + sh.upgrades.length).toBe(0);
    source.setTable(withShard(1, { state: 'serving', zone: 'ez-bj' }));
    expect(await greeting).toBe('hello from ez-bj');
    ws.close();
    await once(ws, 'close');
  });
});
