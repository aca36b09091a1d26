/**
 * What the built-in link server does beyond Toxiproxy: stall partitions that hold a live MySQL
 * query until heal (real MariaDB), bounded buffering while stalled, set-up held by a stall,
 * symmetric latency in one call, seeded toxicity that replays, live connection listing and metrics.
 */
import mysql from 'mysql2/promise';
import { Toxiproxy } from 'toxiproxy-node-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HIGH_WATER } from '../../src/links/link.js';
import { type LinkServer, startLinkServer } from '../../src/links/server.js';
import { dial, type EchoServer, median, readBytes, roundTrips, startEcho } from '../../src/links/testkit.js';
import { type MariaDBService, startMariaDB } from '../helpers/services.js';

process.env.EZ_LOG_LEVEL ??= 'warn';

let server: LinkServer;
let client: Toxiproxy;
let echo: EchoServer;
let db: MariaDBService;

beforeAll(async () => {
  server = await startLinkServer({ port: 0, seed: 11 });
  client = new Toxiproxy(server.url);
  echo = await startEcho();
  db = await startMariaDB({ schema: false });
});
afterAll(async () => {
  await server?.close();
  await echo?.close();
  await db?.stop();
});

const stall = { type: 'stall' as 'timeout', toxicity: 1, attributes: {} as { timeout: number } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('stall partition', () => {
  it('holds a live MySQL query until heal, then completes it on the same connection', async () => {
    const p = await client.createProxy({
      name: 'mysql',
      listen: '127.0.0.1:0',
      upstream: `127.0.0.1:${db.port}`,
    });
    const [host, port] = [p.listen.split(':')[0], Number(p.listen.split(':')[1])];
    const conn = await mysql.createConnection(db.connection('app', { host, port, socketPath: undefined }));
    try {
      const [[before]] = (await conn.query('SELECT CONNECTION_ID() AS id')) as [[{ id: number }], unknown];
      await p.addToxic({ ...stall, name: 'stall-up', stream: 'upstream' });
      await p.addToxic({ ...stall, name: 'stall-down', stream: 'downstream' });
      let done = false;
      const query = conn.query('SELECT 6 * 7 AS answer, CONNECTION_ID() AS id').then((r) => {
        done = true;
        return r;
      });
      await sleep(1500);
      expect(done).toBe(false);
      const [live] = (
        await client.getApi().get<{ bytes: { upstream: { held: number } } }[]>(`${p.getPath()}/connections`)
      ).data;
      expect(live.bytes.upstream.held).toBeGreaterThan(0); // the query waits inside the link
      await (await p.getToxic('stall-up')).remove();
      await (await p.getToxic('stall-down')).remove();
      const [[row]] = (await query) as [[{ answer: number; id: number }], unknown];
      expect(row.answer).toBe(42);
      expect(row.id).toBe(before.id); // same server-side connection: nothing was re-established
    } finally {
      await conn.end();
      await p.remove();
    }
  });

  it('pauses the sockets instead of buffering without bound, and loses nothing on heal', async () => {
    const p = await client.createProxy({ name: 'bulk', listen: '127.0.0.1:0', upstream: echo.address });
    const s = await dial(p.listen);
    await p.addToxic({ ...stall, name: 'stall', stream: 'upstream' });
    const total = 16 * 1024 * 1024;
    const data = Buffer.alloc(total);
    for (let i = 0; i < total; i += 4) data.writeUInt32LE(i, i);
    s.write(data);
    await sleep(800);
    const [c] = (
      await client
        .getApi()
        .get<{ bytes: { upstream: { received: number; held: number } } }[]>(`${p.getPath()}/connections`)
    ).data;
    expect(c.bytes.upstream.held).toBeLessThanOrEqual(HIGH_WATER + 256 * 1024);
    expect(c.bytes.upstream.received).toBeLessThan(total / 2); // the rest waits in kernel buffers and the sender
    const back = readBytes(s, total);
    await (await p.getToxic('stall')).remove();
    expect((await back).equals(data)).toBe(true);
    s.destroy();
    await p.remove();
  });

  it('holds connection set-up while stalled; the connection opens on heal', async () => {
    const p = await client.createProxy({ name: 'setup', listen: '127.0.0.1:0', upstream: echo.address });
    await p.addToxic({ ...stall, name: 'stall', stream: 'downstream' });
    const s = await dial(p.listen); // the kernel accepts; the upstream is not dialled yet
    s.write('ping');
    await sleep(300);
    const conns = (await client.getApi().get<{ state: string }[]>(`${p.getPath()}/connections`)).data;
    expect(conns.map((c) => c.state)).toEqual(['connecting']);
    expect(echo.sockets.size).toBe(0);
    await (await p.getToxic('stall')).remove();
    expect((await readBytes(s, 4)).toString()).toBe('ping');
    s.destroy();
    await p.remove();
  });
});

describe('other extensions', () => {
  it('stream "both": symmetric latency in one call', async () => {
    const p = await client.createProxy({ name: 'both', listen: '127.0.0.1:0', upstream: echo.address });
    const r = await client.getApi().post<{ name: string; stream: string }>(`${p.getPath()}/toxics`, {
      type: 'latency',
      stream: 'both',
      attributes: { latency: 10 },
    });
    expect(r.data).toMatchObject({ name: 'latency_both', stream: 'both' });
    const s = await dial(p.listen);
    const rtt = median(await roundTrips(s, 30));
    expect(rtt).toBeGreaterThanOrEqual(20);
    expect(rtt).toBeLessThan(25);
    s.destroy();
    await p.remove();
  });

  it('seeded toxicity: the same seed draws the same connections, a new seed others', async () => {
    const draw = async (seed: number): Promise<string> => {
      const srv = await startLinkServer({ port: 0, seed });
      try {
        const c = new Toxiproxy(srv.url);
        const p = await c.createProxy({ name: 'tox', listen: '127.0.0.1:0', upstream: echo.address });
        await p.addToxic({
          name: 'half',
          type: 'noop' as 'timeout',
          stream: 'downstream',
          toxicity: 0.5,
          attributes: {} as never,
        });
        const sockets = [];
        for (let i = 0; i < 24; i++) {
          const s = await dial(p.listen);
          s.write('x');
          await readBytes(s, 1);
          sockets.push(s);
        }
        const conns = (await c.getApi().get<{ id: number; toxics: string[] }[]>(`${p.getPath()}/connections`))
          .data;
        for (const s of sockets) s.destroy();
        return conns
          .sort((a, b) => a.id - b.id)
          .map((x) => (x.toxics.includes('half') ? '1' : '0'))
          .join('');
      } finally {
        await srv.close();
      }
    };
    const a = await draw(5);
    expect(a).toMatch(/1/);
    expect(a).toMatch(/0/);
    expect(await draw(5)).toBe(a);
    expect(await draw(6)).not.toBe(a);
  });

  it('lists live connections with bytes each way, and /metrics counts bytes while they live', async () => {
    const p = await client.createProxy({ name: 'count', listen: '127.0.0.1:0', upstream: echo.address });
    const s = await dial(p.listen);
    s.write(Buffer.alloc(1000, 1));
    await readBytes(s, 1000);
    const [c] = (
      await client
        .getApi()
        .get<{ client: string; state: string; bytes: Record<string, { received: number; sent: number }> }[]>(
          `${p.getPath()}/connections`,
        )
    ).data;
    expect(c.state).toBe('open');
    expect(c.client).toBe(`127.0.0.1:${s.localPort}`);
    expect(c.bytes.upstream).toMatchObject({ received: 1000, sent: 1000 });
    expect(c.bytes.downstream).toMatchObject({ received: 1000, sent: 1000 });
    const text = await client.getApi().getText(`${server.url}/metrics`);
    expect(text).toMatch(
      /toxiproxy_proxy_sent_bytes_total\{direction="downstream",listener="[^"]+",proxy="count",upstream="[^"]+"[^}]*\} 1000/,
    );
    expect(text).toMatch(/ezlinks_connections\{proxy="count"[^}]*\} 1/);
    s.destroy();
    await p.remove();
  });

  it('blackhole (timeout 0) drops bytes and keeps the connection; removing it closes the connection', async () => {
    const p = await client.createProxy({ name: 'hole', listen: '127.0.0.1:0', upstream: echo.address });
    const s = await dial(p.listen);
    await p.addToxic({
      name: 'hole',
      type: 'timeout',
      stream: 'upstream',
      toxicity: 1,
      attributes: { timeout: 0 },
    });
    let got = 0;
    s.on('data', (b) => {
      got += b.length;
    });
    s.write('lost');
    await sleep(200);
    expect(got).toBe(0);
    expect(s.destroyed).toBe(false);
    const closed = new Promise((r) => s.once('close', r));
    await (await p.getToxic('hole')).remove();
    await closed;
    await p.remove();
  });
});
