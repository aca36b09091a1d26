/**
 * The link server driven only through toxiproxy-node-client 4.1.0: every client call, with
 * Toxiproxy's status codes (read through the client's own transport) and JSON shapes.
 */
import { type Proxy as ClientProxy, Toxiproxy } from 'toxiproxy-node-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LinkServer } from '../../src/links/server.js';
import { startLinkServer } from '../../src/links/server.js';
import { dial, type EchoServer, readBytes, startEcho } from '../../src/links/testkit.js';

process.env.EZ_LOG_LEVEL ??= 'warn';

let server: LinkServer;
let client: Toxiproxy;
let echoA: EchoServer;
let echoB: EchoServer;

/** Status and JSON of a raw request, sent by the client's HttpClient (it discards bodies of errors). */
async function raw(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const api = client.getApi() as unknown as { doFetch(url: string, init: RequestInit): Promise<Response> };
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers = { 'Content-Type': 'application/json' };
  }
  try {
    const res = await api.doFetch(`${server.url}${path}`, init);
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  } catch (err) {
    const m = /status code (\d+)/.exec((err as Error).message);
    if (!m) throw err;
    return { status: Number(m[1]), json: undefined };
  }
}

const statusOf = async (p: Promise<unknown>): Promise<number> => {
  try {
    await p;
    return 0;
  } catch (err) {
    return Number(/status code (\d+)/.exec((err as Error).message)?.[1] ?? -1);
  }
};

async function echoOnce(listen: string, text: string): Promise<string> {
  const s = await dial(listen);
  s.write(text);
  const got = (await readBytes(s, Buffer.byteLength(text))).toString();
  s.destroy();
  return got;
}

beforeAll(async () => {
  server = await startLinkServer({ port: 0, seed: 1 });
  client = new Toxiproxy(server.url);
  echoA = await startEcho();
  echoB = await startEcho({ greeting: 'B>' });
});

afterAll(async () => {
  await server?.close();
  await echoA?.close();
  await echoB?.close();
});

describe('proxies through toxiproxy-node-client', () => {
  let proxy: ClientProxy;

  it('getVersion answers {"version": …} like Toxiproxy 2.12', async () => {
    const text = await client.getVersion();
    expect(JSON.parse(text)).toMatchObject({ version: '2.12.0' });
  });

  it('createProxy: 201 with the resolved listen address; the proxy forwards bytes', async () => {
    const r = await raw('POST', '/proxies', { name: 'raw', listen: '127.0.0.1:0', upstream: echoA.address });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ name: 'raw', upstream: echoA.address, enabled: true, toxics: [] });
    proxy = await client.createProxy({
      name: 'ez-bj->ez-sh:mysql',
      listen: '127.0.0.1:0',
      upstream: echoA.address,
    });
    expect(proxy.name).toBe('ez-bj->ez-sh:mysql');
    expect(proxy.enabled).toBe(true);
    expect(proxy.listen).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(proxy.listen).not.toBe('127.0.0.1:0');
    expect(await echoOnce(proxy.listen, 'hello')).toBe('hello');
  });

  it('createProxy: 409 for a duplicate name, 400 for a missing field', async () => {
    expect(
      await statusOf(client.createProxy({ name: 'raw', listen: '127.0.0.1:0', upstream: echoA.address })),
    ).toBe(409);
    expect((await raw('POST', '/proxies', { name: 'x', listen: '127.0.0.1:0' })).status).toBe(400);
    const r = await raw('POST', '/proxies', { listen: '127.0.0.1:0', upstream: echoA.address });
    expect(r.status).toBe(400);
  });

  it('get: 200 with the proxy, 404 for an unknown one', async () => {
    const got = await client.get('ez-bj->ez-sh:mysql');
    expect(got.toJson()).toEqual(proxy.toJson());
    expect(await statusOf(client.get('nope'))).toBe(404);
    const r = await raw('GET', `/proxies/${encodeURIComponent('ez-bj->ez-sh:mysql')}`);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ ...proxy.toJson(), toxics: [] });
  });

  it('getAll: an object keyed by proxy name', async () => {
    const all = await client.getAll();
    expect(Object.keys(all).sort()).toEqual(['ez-bj->ez-sh:mysql', 'raw']);
    const r = await raw('GET', '/proxies');
    expect(r.status).toBe(200);
    expect((r.json as Record<string, { name: string }>).raw.name).toBe('raw');
  });

  it('update: disable closes the listener (connects fail at once), enable reopens, upstream changes', async () => {
    const live = await dial(proxy.listen);
    const closed = new Promise((r) => live.once('close', r));
    const off = await proxy.update({ listen: proxy.listen, upstream: proxy.upstream, enabled: false });
    expect(off.enabled).toBe(false);
    await closed; // live connections are closed too
    const t0 = performance.now();
    await expect(dial(proxy.listen)).rejects.toThrow(/ECONNREFUSED/);
    expect(performance.now() - t0).toBeLessThan(50);
    const on = await off.update({ listen: proxy.listen, upstream: proxy.upstream, enabled: true });
    expect(on.enabled).toBe(true);
    expect(await echoOnce(on.listen, 'again')).toBe('again');
    const moved = await on.update({ listen: on.listen, upstream: echoB.address, enabled: true });
    expect(moved.upstream).toBe(echoB.address);
    const s = await dial(moved.listen);
    expect((await readBytes(s, 2)).toString()).toBe('B>');
    s.destroy();
    proxy = await moved.update({ listen: moved.listen, upstream: echoA.address, enabled: true });
    // PATCH answers like POST (Toxiproxy 2.12 prefers PATCH)
    const r = await raw('PATCH', `/proxies/raw`, { enabled: false });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ name: 'raw', enabled: false });
    expect(await statusOf(client.getApi().post(`${server.url}/proxies/nope`, { enabled: true }))).toBe(404);
  });

  it('keeps the port a proxy got for port 0 across disable and enable, as Toxiproxy does', async () => {
    const before = (await raw('GET', '/proxies/raw')).json as { listen: string; enabled: boolean };
    expect(before.enabled).toBe(false);
    expect(before.listen).not.toBe('127.0.0.1:0');
    const on = await raw('PATCH', '/proxies/raw', { enabled: true });
    expect((on.json as { listen: string }).listen).toBe(before.listen);
    expect(await echoOnce(before.listen, 'same port')).toBe('same port');
    await raw('PATCH', '/proxies/raw', { enabled: false });
    const again = await raw('PATCH', '/proxies/raw', { enabled: true });
    expect((again.json as { listen: string }).listen).toBe(before.listen);
    await raw('PATCH', '/proxies/raw', { enabled: false }); // as the test before left it
  });

  it('addToxic: 200 with defaults (name <type>_<stream>, downstream, toxicity 1); 409 duplicate; 400 bad type', async () => {
    const r = await raw('POST', `/proxies/raw/toxics`, { type: 'latency', attributes: { latency: 5 } });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      name: 'latency_downstream',
      type: 'latency',
      stream: 'downstream',
      toxicity: 1,
      attributes: { latency: 5, jitter: 0, handshake: false },
    });
    const toxic = await proxy.addToxic({
      name: 'slow',
      type: 'latency',
      stream: 'upstream',
      toxicity: 1,
      attributes: { latency: 10, jitter: 2 },
    });
    expect(toxic.toJson()).toEqual({
      name: 'slow',
      type: 'latency',
      stream: 'upstream',
      toxicity: 1,
      attributes: { latency: 10, jitter: 2, handshake: false },
    });
    expect(
      await statusOf(
        proxy.addToxic({
          name: 'slow',
          type: 'latency',
          stream: 'upstream',
          toxicity: 1,
          attributes: { latency: 1, jitter: 0 },
        }),
      ),
    ).toBe(409);
    expect(
      await statusOf(
        proxy.addToxic({
          name: 'x',
          type: 'nonsense' as 'latency',
          stream: 'upstream',
          toxicity: 1,
          attributes: {} as never,
        }),
      ),
    ).toBe(400);
    expect(
      await statusOf(
        proxy.addToxic({
          name: 'x',
          type: 'latency',
          stream: 'sideways' as 'upstream',
          toxicity: 1,
          attributes: { latency: 1, jitter: 0 },
        }),
      ),
    ).toBe(400);
  });

  it('getToxic: 200; toxic update merges attributes (200); remove: 204, then 404', async () => {
    const toxic = await proxy.getToxic<{ latency: number; jitter: number }>('slow');
    expect(toxic.attributes).toMatchObject({ latency: 10, jitter: 2 });
    const updated = await toxic.update({ ...toxic.toJson(), attributes: { latency: 20, jitter: 2 } });
    expect(updated.attributes).toMatchObject({ latency: 20, jitter: 2 });
    const partial = await raw('PATCH', `/proxies/${encodeURIComponent(proxy.name)}/toxics/slow`, {
      attributes: { jitter: 0 },
    });
    expect(partial.status).toBe(200);
    expect(partial.json).toMatchObject({ attributes: { latency: 20, jitter: 0 }, toxicity: 1 });
    const list = await raw('GET', `/proxies/${encodeURIComponent(proxy.name)}/toxics`);
    expect(list.status).toBe(200);
    expect((list.json as { name: string }[]).map((t) => t.name)).toEqual(['slow']);
    expect((await raw('DELETE', `/proxies/${encodeURIComponent(proxy.name)}/toxics/slow`)).status).toBe(204);
    expect(await statusOf(updated.remove())).toBe(404);
    expect(await statusOf(proxy.getToxic('slow'))).toBe(404);
    expect(await statusOf(client.getApi().post(`${proxy.getPath()}/toxics/slow`, { attributes: {} }))).toBe(
      404,
    );
  });

  it('populate: 201 {"proxies":[…]}, creates or replaces, keeps unchanged ones; toxics accepted (extension)', async () => {
    const r = await raw('POST', '/populate', [
      { name: 'p1', listen: '127.0.0.1:0', upstream: echoA.address },
      {
        name: 'p2',
        listen: '127.0.0.1:0',
        upstream: echoA.address,
        toxics: [{ type: 'latency', stream: 'upstream', attributes: { latency: 1 } }],
      },
    ]);
    expect(r.status).toBe(201);
    const created = (r.json as { proxies: { name: string; toxics: { name: string }[] }[] }).proxies;
    expect(created.map((p) => p.name)).toEqual(['p1', 'p2']);
    expect(created[1].toxics.map((t) => t.name)).toEqual(['latency_upstream']);
    const p1 = await client.get('p1');
    const again = await client.populate([
      { name: 'p1', listen: p1.listen, upstream: echoA.address },
      { name: 'p3', listen: '127.0.0.1:0', upstream: echoA.address },
    ]);
    expect(Object.keys(again).sort()).toEqual(['p1', 'p3']);
    expect(again.p1.listen).toBe(p1.listen); // unchanged: kept
    expect(await echoOnce(again.p3.listen, 'p3')).toBe('p3');
    expect((await raw('POST', '/populate', [{ name: 'bad' }])).status).toBe(400);
    expect((await raw('POST', '/populate', { name: 'notalist' })).status).toBe(400);
    expect(Object.keys(await client.getAll())).not.toContain('bad');
  });

  it('reset: 204, every proxy enabled again and every toxic gone', async () => {
    await proxy.addToxic({
      name: 't',
      type: 'timeout',
      stream: 'downstream',
      toxicity: 1,
      attributes: { timeout: 0 },
    });
    const raw1 = await client.get('raw');
    expect(raw1.enabled).toBe(false);
    expect((await raw('POST', '/reset')).status).toBe(204);
    await client.reset();
    expect((await client.get('raw')).enabled).toBe(true);
    const all = await raw('GET', '/proxies');
    for (const p of Object.values(all.json as Record<string, { toxics: unknown[] }>))
      expect(p.toxics).toEqual([]);
    expect(await echoOnce(proxy.listen, 'after reset')).toBe('after reset');
  });

  it('remove: 204, then 404; the listener is closed', async () => {
    const p3 = await client.get('p3');
    expect((await raw('DELETE', '/proxies/p3')).status).toBe(204);
    expect(await statusOf(p3.remove())).toBe(404);
    await expect(dial(p3.listen)).rejects.toThrow(/ECONNREFUSED/);
    await (await client.get('p1')).remove();
    expect(Object.keys(await client.getAll())).not.toContain('p1');
  });

  it('serves /healthz and Prometheus /metrics on the API port', async () => {
    const h = await raw('GET', '/healthz');
    expect(h.status).toBe(200);
    expect(h.json).toMatchObject({ ok: true, seed: 1 });
    const text = await client.getApi().getText(`${server.url}/metrics`);
    expect(text).toMatch(
      /toxiproxy_proxy_received_bytes_total\{direction="upstream",listener="[^"]+",proxy="ez-bj->ez-sh:mysql"/,
    );
    expect(text).toMatch(/ezlinks_api_requests_total/);
  });
});
