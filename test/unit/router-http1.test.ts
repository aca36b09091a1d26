/**
 * The gateway's own HTTP/1.1 front and upstream connections (src/router/front.ts, upstream.ts),
 * driven over raw TCP so every byte on the wire is visible: keep-alive and Connection: close,
 * HTTP/1.0, pipelining, Content-Length and chunked request bodies, Expect: 100-continue, HEAD,
 * 204/304, close-delimited and chunked answers, malformed and oversized heads, malformed framing
 * and junk after complete requests (answers kept, then a JSON error), a client or an upstream
 * going away mid-answer, upstream header timeouts, Upgrade requests (non-101 answers, tunnels after
 * 101: early bytes, half-close both ways, an upstream dying, backpressure).
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startApiRouter } from '../../src/router/index.js';
import type { GatewayServer } from '../../src/router/server.js';
import { StaticRoutingSource } from '../../src/sdk/static.js';
import { loadTopology } from '../../src/topology/index.js';

const BEIJING = 'geo=39.9042,116.4074';
const SHANGHAI = 'geo=31.2304,121.4737';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  bodyBytes: number;
  bodySha: string;
}

/** ez-bj's stand-in service: records each request, answers per path (see `answer`). */
let svc: Server;
const seen: Seen[] = [];
let answer: ((req: IncomingMessage, res: ServerResponse, body: Buffer) => void) | undefined;
/** called with each request as soon as its head is in, before its body */
let onHead: ((req: IncomingMessage) => void) | undefined;

/** ez-sh's stand-in: a raw TCP server whose answer bytes a test writes itself. */
let rawSvc: NetServer;
/** true: the test reads the rest of the socket itself (`rest`: bytes that came after the head) */
let rawAnswer: (socket: Socket, request: string, rest: string) => unknown = () => undefined;
let rawConnections = 0;

let router: GatewayServer;
let port: number;

beforeAll(async () => {
  process.env.EZ_LOG_LEVEL = 'silent';
  svc = createServer((req, res) => {
    onHead?.(req);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        bodyBytes: body.length,
        bodySha: createHash('sha256').update(body).digest('hex'),
      });
      if (answer) return answer(req, res, body);
      const out = JSON.stringify({ url: req.url, bodyBytes: body.length });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
      res.end(out);
    });
  });
  svc.listen(0, '127.0.0.1');
  await once(svc, 'listening');
  rawSvc = createNetServer((socket) => {
    rawConnections++;
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = text.slice(0, end);
        text = text.slice(end + 4);
        if (rawAnswer(socket, head, text) === true) socket.off('data', onData);
      }
    };
    socket.on('data', onData);
    socket.on('error', () => {});
  });
  rawSvc.listen(0, '127.0.0.1');
  await once(rawSvc, 'listening');
  const origin = (s: { address(): unknown }) => `http://127.0.0.1:${(s.address() as { port: number }).port}`;
  router = await startApiRouter({
    source: StaticRoutingSource.fromTopology(loadTopology()),
    upstreams: { 'ez-bj': [origin(svc)], 'ez-sh': [origin(rawSvc)] },
    accessLog: { mode: 'off', sample: 0 },
    pool: { headersTimeoutMs: 600 },
    probeIntervalMs: 0, // the reach probe's requests would count as connections of the tests
  });
  port = router.port;
});

afterAll(async () => {
  await router?.close();
  svc?.close();
  rawSvc?.close();
});

afterEach(() => {
  answer = undefined;
  onHead = undefined;
  rawAnswer = () => undefined;
  seen.length = 0;
});

/** A raw client connection collecting everything the router sends back. */
class Raw {
  readonly socket: Socket;
  text = '';
  closed = false;
  private waiters: (() => void)[] = [];

  constructor() {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (d) => {
      this.text += d.toString('latin1');
      this.wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    this.socket.on('error', () => {});
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Resolves once `until(text)` holds (or the connection closed); rejects after timeoutMs. */
  async wait(until: (text: string) => boolean, timeoutMs = 3000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!until(this.text) && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; got so far: ${JSON.stringify(this.text)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.text;
  }

  async waitClosed(timeoutMs = 3000): Promise<void> {
    await this.wait(() => false, timeoutMs).catch(() => undefined);
    if (!this.closed) throw new Error(`connection still open; got: ${JSON.stringify(this.text)}`);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** ez_router_requests_total of ez-sh's shard 1 with code 499 (client gone) */
async function count499(): Promise<number> {
  const text = await (await request(`${router.url}/metrics`)).body.text();
  const m = /ez_router_requests_total\{zone="ez-sh",shard="1",code="499",route="zone"[^}]*\} (\d+)/.exec(
    text,
  );
  return m ? Number(m[1]) : 0;
}

/** Count of answers begun in `text` (status lines). */
const answers = (text: string) => text.match(/HTTP\/1\.1 \d{3} /g)?.length ?? 0;
const get = (path: string, extra = '') =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\nX-Ez-Route: ${BEIJING}\r\n${extra}\r\n`;

/**
 * Split an HTTP/1.1 answer stream into [head, body] pairs, reading content-length / chunked framing;
 * `bodiless`: indexes of answers to HEAD requests.
 */
function parseAnswers(text: string, bodiless: number[] = []): { head: string; body: string }[] {
  const out: { head: string; body: string }[] = [];
  let rest = text;
  while (rest.startsWith('HTTP/1.1 ')) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const head = rest.slice(0, end);
    rest = rest.slice(end + 4);
    const cl = /\r\ncontent-length: (\d+)/i.exec(head);
    let body = '';
    if (/^HTTP\/1\.1 (1\d\d|204|304)/.test(head) || bodiless.includes(out.length)) body = '';
    else if (cl) {
      body = rest.slice(0, Number(cl[1]));
      rest = rest.slice(Number(cl[1]));
    } else if (/\r\ntransfer-encoding: chunked/i.test(head)) {
      for (;;) {
        const nl = rest.indexOf('\r\n');
        const size = Number.parseInt(rest.slice(0, nl), 16);
        rest = rest.slice(nl + 2);
        if (size === 0) {
          rest = rest.slice(2);
          break;
        }
        body += rest.slice(0, size);
        rest = rest.slice(size + 2);
      }
    } else {
      body = rest;
      rest = '';
    }
    out.push({ head, body });
  }
  return out;
}

describe('gateway front: connections', () => {
  it('keeps a connection alive across sequential requests, and closes it after Connection: close', async () => {
    const c = new Raw();
    c.send(get('/one'));
    await c.wait((t) => answers(t) === 1 && t.includes('"bodyBytes":0}'));
    c.send(get('/two'));
    await c.wait((t) => t.includes('"url":"/two"'));
    expect(c.closed).toBe(false);
    c.send(get('/three', 'Connection: close\r\n'));
    await c.waitClosed();
    const all = parseAnswers(c.text);
    expect(all.map((a) => JSON.parse(a.body).url)).toEqual(['/one', '/two', '/three']);
    expect(all[0].head).not.toMatch(/connection: close/i);
    expect(all[2].head).toMatch(/\r\nconnection: close/i);
    expect(all[2].head).toMatch(/\r\nx-ez-zone: ez-bj/);
    // the service saw neither the client's Connection header nor a second Host
    expect(seen[2].headers.connection).not.toBe('close');
    expect(seen[2].headers.host).toBe('x');
  });

  it('answers pipelined requests one at a time, in order', async () => {
    answer = (req, res) => {
      // the first answer is the slow one: answering out of order would show
      const out = JSON.stringify({ url: req.url });
      setTimeout(
        () => {
          res.writeHead(200, { 'content-length': Buffer.byteLength(out) });
          res.end(out);
        },
        req.url === '/slow' ? 80 : 0,
      );
    };
    const c = new Raw();
    c.send(get('/slow') + get('/fast') + get('/last'));
    await c.wait((t) => answers(t) === 3 && t.includes('"/last"'));
    expect(parseAnswers(c.text).map((a) => JSON.parse(a.body).url)).toEqual(['/slow', '/fast', '/last']);
    expect(seen.map((s) => s.url)).toEqual(['/slow', '/fast', '/last']);
    c.close();
  });

  it('speaks HTTP/1.0: closes after the answer unless asked to keep alive', async () => {
    const c = new Raw();
    c.send(`GET /old HTTP/1.0\r\nX-Ez-Route: ${BEIJING}\r\n\r\n`);
    await c.waitClosed();
    expect(c.text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(c.text).toMatch(/\r\nconnection: close\r\n/);
    // no Host from the client: the upstream's own is sent
    expect(seen[0].headers.host).toMatch(/^127\.0\.0\.1:\d+$/);

    const k = new Raw();
    k.send(`GET /old HTTP/1.0\r\nConnection: keep-alive\r\nX-Ez-Route: ${BEIJING}\r\n\r\n`);
    await k.wait((t) => t.includes('"bodyBytes":0}'));
    expect(k.text).toMatch(/\r\nconnection: keep-alive\r\n/);
    expect(k.closed).toBe(false);
    k.close();
  });

  it('takes a client that half-closes as gone, like nginx: the call is cut and counted as 499', async () => {
    let upstreamClosed = false;
    rawAnswer = (socket) => {
      socket.on('close', () => {
        upstreamClosed = true;
      });
      setTimeout(() => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'), 200);
    };
    const c = new Raw();
    c.socket.end(`GET /half HTTP/1.1\r\nHost: x\r\nX-Ez-Route: ${SHANGHAI}\r\n\r\n`);
    await c.waitClosed();
    expect(c.text).toBe('');
    const deadline = Date.now() + 2000;
    while (!upstreamClosed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(upstreamClosed).toBe(true);
  });

  it('answers 400 to a malformed head and 431 to an oversized one, then closes', async () => {
    const bad = new Raw();
    bad.send('HELLO THERE\r\n\r\n');
    await bad.waitClosed();
    expect(bad.text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);

    const big = new Raw();
    big.send(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    await big.waitClosed();
    expect(big.text).toMatch(/^HTTP\/1\.1 431 /);

    const smuggle = new Raw();
    smuggle.send(
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\nX-Ez-Route: ${BEIJING}\r\n\r\n0\r\n\r\n`,
    );
    await smuggle.waitClosed();
    expect(smuggle.text).toMatch(/^HTTP\/1\.1 400 /);
    expect(seen).toHaveLength(0);
  });

  it('answers 400 to an HTTP/1.1 request without Host, 417 to an unknown expectation', async () => {
    const c = new Raw();
    c.send(`GET / HTTP/1.1\r\nX-Ez-Route: ${BEIJING}\r\n\r\n`);
    await c.wait((t) => t.includes('}}'));
    expect(c.text).toMatch(/^HTTP\/1\.1 400 /);
    expect(c.text).toContain('without a Host header');
    c.send(get('/x', 'Expect: something-else\r\n'));
    await c.wait((t) => answers(t) === 2 && t.endsWith('}}'));
    expect(c.text).toMatch(/HTTP\/1\.1 417 /);
    expect(seen).toHaveLength(0);
    c.close();
  });
});

describe('gateway front: request bodies', () => {
  it('streams a chunked request body upstream as it arrives', async () => {
    const c = new Raw();
    c.send(`POST /up HTTP/1.1\r\nHost: x\r\nX-Ez-Route: ${BEIJING}\r\nTransfer-Encoding: chunked\r\n\r\n`);
    const parts = [Buffer.alloc(3000, 1), Buffer.alloc(70_000, 2), Buffer.alloc(5, 3)];
    for (const p of parts) {
      c.send(`${p.length.toString(16)}\r\n`);
      c.send(p);
      c.send('\r\n');
      await new Promise((r) => setTimeout(r, 20));
    }
    c.send('0\r\n\r\n');
    await c.wait((t) => t.includes('"bodyBytes"'));
    const whole = Buffer.concat(parts);
    expect(seen[0].bodyBytes).toBe(whole.length);
    expect(seen[0].bodySha).toBe(createHash('sha256').update(whole).digest('hex'));
    expect(seen[0].headers['transfer-encoding']).toBe('chunked');
    // and the connection serves the next request
    c.send(get('/next'));
    await c.wait((t) => t.includes('"/next"'));
    c.close();
  });

  it('sends 100 Continue when the body is wanted, then passes the body on', async () => {
    const body = Buffer.alloc(10_000, 9);
    const c = new Raw();
    c.send(
      `PUT /cont HTTP/1.1\r\nHost: x\r\nX-Ez-Route: ${BEIJING}\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    await c.wait((t) => t.includes('100 Continue'));
    expect(seen).toHaveLength(0);
    c.send(body);
    await c.wait((t) => t.includes('"bodyBytes":10000'));
    expect(c.text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    expect(seen[0].headers.expect).toBeUndefined();
    c.close();
  });

  it('discards the body of a refused request and keeps the connection in step', async () => {
    const c = new Raw();
    c.send(`POST /x HTTP/1.1\r\nHost: x\r\nX-Ez-Route: geo=0,0\r\nContent-Length: 20\r\n\r\n`);
    await c.wait((t) => t.endsWith('}}'));
    expect(c.text).toMatch(/^HTTP\/1\.1 400 /);
    c.send('0123456789abcdefghij');
    c.send(get('/after-refusal'));
    await c.wait((t) => t.includes('"/after-refusal"'));
    expect(seen.map((s) => s.url)).toEqual(['/after-refusal']);
    c.close();
  });
});

describe('gateway front: answers', () => {
  it('passes HEAD, 204 and 304 answers without a body and keeps the connection', async () => {
    answer = (req, res) => {
      if (req.url === '/nc') res.writeHead(204).end();
      else if (req.url === '/nm') res.writeHead(304, { etag: '"v1"' }).end();
      else res.writeHead(200, { 'content-length': 1234 }).end(); // HEAD: node:http sends no body
    };
    const c = new Raw();
    c.send(`HEAD /h HTTP/1.1\r\nHost: x\r\nX-Ez-Route: ${BEIJING}\r\n\r\n`);
    await c.wait((t) => t.includes('\r\n\r\n'));
    c.send(get('/nc'));
    await c.wait((t) => answers(t) === 2 && t.endsWith('\r\n\r\n'));
    c.send(get('/nm'));
    await c.wait((t) => answers(t) === 3 && t.endsWith('\r\n\r\n'));
    answer = undefined;
    c.send(get('/plain'));
    await c.wait((t) => t.includes('"/plain"'));
    const all = parseAnswers(c.text, [0]);
    expect(all.map((a) => a.head.split('\r\n')[0])).toEqual([
      'HTTP/1.1 200 OK',
      'HTTP/1.1 204 No Content',
      'HTTP/1.1 304 Not Modified',
      'HTTP/1.1 200 OK',
    ]);
    expect(all[0].head).toMatch(/\r\ncontent-length: 1234/);
    expect(all[0].body).toBe('');
    expect(all[2].head).toMatch(/\r\netag: "v1"/);
    expect(JSON.parse(all[3].body).url).toBe('/plain');
    c.close();
  });

  it('re-frames a close-delimited upstream answer as chunked, and does not reuse that connection', async () => {
    rawAnswer = (socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nfirst ');
      setTimeout(() => socket.end('second'), 30);
    };
    const before = rawConnections;
    const c = new Raw();
    const sh = `GET /cd HTTP/1.1\r\nHost: x\r\nX-Ez-Route: ${SHANGHAI}\r\n\r\n`;
    c.send(sh);
    await c.wait((t) => t.endsWith('0\r\n\r\n'));
    const [a] = parseAnswers(c.text);
    expect(a.head).toMatch(/\r\ntransfer-encoding: chunked/);
    expect(a.head).toMatch(/\r\nx-ez-zone: ez-sh/);
    expect(a.body).toBe('first second');
    c.send(sh);
    await c.wait((t) => answers(t) === 2 && t.endsWith('0\r\n\r\n'));
    expect(rawConnections).toBe(before + 2);
    c.close();
  });

  it('cuts the client connection when the upstream fails mid-answer (a short answer never looks whole)', async () => {
    rawAnswer = (socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part');
      setTimeout(() => socket.destroy(), 30);
    };
    const c = new Raw();
    c.send(`GET /cut HTTP/1.1\r\nHost: x\r\nX-Ez-Route: ${SHANGHAI}\r\n\r\n`);
    await c.waitClosed();
    expect(c.text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(c.text).toMatch(/only part$/);
  });

  it('answers 503 when the upstream sends no answer head within the headers timeout', async () => {
    rawAnswer = () => {}; // never answers
    const res = await request(`${router.url}/silent`, { headers: { 'X-Ez-Route': SHANGHAI } });
    const json = (await res.body.json()) as { error: { code: string; message: string } };
    expect(res.statusCode).toBe(503);
    expect(json.error.code).toBe('EZ_ZONE_UNAVAILABLE');
    // the gateway's own words say which timeout ended it (no wall-clock assertion: shared machines)
    expect(json.error.message).toMatch(/no answer within 600 ms/);
  });

  it('aborts the upstream call when the client goes away, and counts it as 499', async () => {
    const before = await count499();
    let upstreamClosed = false;
    rawAnswer = (socket) => {
      socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n');
      socket.on('close', () => {
        upstreamClosed = true;
      });
    };
    const c = new Raw();
    c.send(`GET /gone HTTP/1.1\r\nHost: x\r\nX-Ez-Route: ${SHANGHAI}\r\n\r\n`);
    await c.wait((t) => t.includes('hello'));
    c.close();
    const deadline = Date.now() + 2000;
    while (!upstreamClosed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(upstreamClosed).toBe(true);
    expect(await count499()).toBe(before + 1);
  });
});

describe('gateway front: malformed input after and inside requests', () => {
  const order = '{"user":"u-1","merchant":"m-1","amountCents":1200}';
  const post = `POST /orders HTTP/1.1\r\nHost: x\r\nX-Ez-Route: ${BEIJING}\r\nContent-Type: application/json\r\nContent-Length: ${order.length}\r\n\r\n${order}`;

  it('answers a complete POST before the junk pipelined after it, then 400 JSON and closes', async () => {
    const c = new Raw();
    c.send(`${post}GARBAGE\r\n\r\n`);
    await c.waitClosed();
    const all = parseAnswers(c.text);
    expect(all.map((a) => a.head.split('\r\n')[0])).toEqual(['HTTP/1.1 200 OK', 'HTTP/1.1 400 Bad Request']);
    expect(JSON.parse(all[0].body)).toEqual({ url: '/orders', bodyBytes: order.length });
    expect(all[0].head).not.toMatch(/connection: close/i);
    expect(all[1].head).toMatch(/\r\nconnection: close/i);
    expect(all[1].head).toMatch(/\r\ncontent-type: application\/json/i);
    const err = JSON.parse(all[1].body);
    expect(err.error.code).toBe('EZ_BAD_REQUEST');
    expect(err.error.message).toMatch(/Invalid method/);
    expect(seen.map((s) => `${s.method} ${s.url} ${s.bodyBytes}`)).toEqual([`POST /orders ${order.length}`]);
  });

  it('keeps the answers of every complete request pipelined before a malformed head, in order', async () => {
    answer = (req, res) => {
      const out = JSON.stringify({ url: req.url });
      setTimeout(
        () => res.writeHead(200, { 'content-length': Buffer.byteLength(out) }).end(out),
        req.url === '/slow' ? 80 : 0,
      );
    };
    const c = new Raw();
    c.send(`${get('/slow')}${get('/fast')}GET /bad HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n`);
    await c.waitClosed();
    const all = parseAnswers(c.text);
    expect(all.map((a) => a.head.split('\r\n')[0])).toEqual([
      'HTTP/1.1 200 OK',
      'HTTP/1.1 200 OK',
      'HTTP/1.1 400 Bad Request',
    ]);
    expect(all.slice(0, 2).map((a) => JSON.parse(a.body).url)).toEqual(['/slow', '/fast']);
    expect(JSON.parse(all[2].body).error.message).toMatch(/Content-Length/);
    expect(seen.map((s) => s.url)).toEqual(['/slow', '/fast']);
  });

  it('never forwards a pipelined request whose chunked body is malformed; the earlier answer still comes', async () => {
    answer = (req, res) => {
      setTimeout(() => res.writeHead(200, { 'content-length': 4 }).end('slow'), 50);
      void req;
    };
    const c = new Raw();
    c.send(
      `${get('/slow')}POST /orders HTTP/1.1\r\nHost: x\r\nX-Ez-Route: ${BEIJING}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`,
    );
    await c.waitClosed();
    const all = parseAnswers(c.text);
    expect(all.map((a) => a.head.split('\r\n')[0])).toEqual(['HTTP/1.1 200 OK', 'HTTP/1.1 400 Bad Request']);
    expect(all[0].body).toBe('slow');
    expect(JSON.parse(all[1].body).error.message).toMatch(/chunk size/);
    expect(seen.map((s) => s.url)).toEqual(['/slow']);
  });

  it('cuts the upstream call when a chunked body turns bad midway: the service never takes it as whole', async () => {
    let started = false;
    let cut = false;
    onHead = (req) => {
      started = true;
      req.on('close', () => {
        cut = !req.complete;
      });
    };
    const c = new Raw();
    c.send(
      `POST /orders HTTP/1.1\r\nHost: x\r\nX-Ez-Route: ${BEIJING}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`,
    );
    for (let i = 0; i < 300 && !started; i++) await new Promise((r) => setTimeout(r, 10));
    expect(started).toBe(true); // the service has the head and the first chunk
    c.send('zz\r\n');
    await c.waitClosed();
    expect(c.text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(JSON.parse(parseAnswers(c.text)[0].body).error.message).toMatch(/Invalid character in chunk size/);
    for (let i = 0; i < 300 && !cut; i++) await new Promise((r) => setTimeout(r, 10));
    expect(cut).toBe(true);
    expect(seen).toHaveLength(0);
  });

  it('answers 501 to a request with an unknown transfer coding queued behind another, after that answer', async () => {
    answer = (_req, res) => {
      setTimeout(() => res.writeHead(200, { 'content-length': 4 }).end('slow'), 50);
    };
    const c = new Raw();
    c.send(
      `${get('/slow')}POST /orders HTTP/1.1\r\nHost: x\r\nX-Ez-Route: ${BEIJING}\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    );
    await c.waitClosed();
    const all = parseAnswers(c.text);
    expect(all.map((a) => a.head.split('\r\n')[0])).toEqual([
      'HTTP/1.1 200 OK',
      'HTTP/1.1 501 Not Implemented',
    ]);
    expect(JSON.parse(all[1].body).error.message).toBe(
      'Transfer-Encoding "xchunked" is not supported (only chunked)',
    );
    expect(seen.map((s) => s.url)).toEqual(['/slow']);
  });

  it.each([
    [
      'an unknown transfer coding',
      'xchunked',
      '5\r\nhello\r\n0\r\n\r\n',
      501,
      /Transfer-Encoding "xchunked" is not supported/,
    ],
    [
      'a coding the gateway cannot pass on',
      'gzip, chunked',
      '5\r\nhello\r\n0\r\n\r\n',
      501,
      /Transfer-Encoding "gzip, chunked" is not supported/,
    ],
    ['chunked twice', 'chunked, chunked', '5\r\nhello\r\n0\r\n\r\n', 400, /Transfer-Encoding/],
    [
      'an overflowing chunk size',
      'chunked',
      'ffffffffffffffffff\r\nhello\r\n0\r\n\r\n',
      400,
      /Chunk size overflow/,
    ],
    ['LF-only chunk lines', 'chunked', '5\nhello\n0\n\n', 400, /Missing expected CR after chunk size/],
    [
      'LF-only after chunk data',
      'chunked',
      '5\r\nhello\n0\r\n\r\n',
      400,
      /Missing expected CR after chunk data/,
    ],
  ])(
    'answers %s with a JSON error and never forwards the request',
    async (_what, coding, body, status, message) => {
      const c = new Raw();
      c.send(
        `POST /orders HTTP/1.1\r\nHost: x\r\nX-Ez-Route: ${BEIJING}\r\nTransfer-Encoding: ${coding}\r\n\r\n${body}`,
      );
      await c.wait((t) => t.endsWith('}}'));
      const [a] = parseAnswers(c.text);
      expect(a.head.split('\r\n')[0]).toBe(
        `HTTP/1.1 ${status} ${status === 501 ? 'Not Implemented' : 'Bad Request'}`,
      );
      const err = JSON.parse(a.body);
      expect(err.error.code).toBe('EZ_BAD_REQUEST');
      expect(err.error.message).toMatch(message);
      expect(a.head).toMatch(/\r\nconnection: close/i);
      await c.waitClosed();
      expect(seen).toHaveLength(0);
    },
  );
});

describe('gateway front: Upgrade', () => {
  const upgrade = (path: string, tag: string, proto = 'test-proto') =>
    `GET ${path} HTTP/1.1\r\nHost: x\r\nX-Ez-Route: ${tag}\r\nConnection: Upgrade\r\nUpgrade: ${proto}\r\n\r\n`;
  const SWITCH = 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test-proto\r\n\r\n';

  it('passes a non-101 answer to an Upgrade request on as a normal answer; the connection goes on as HTTP', async () => {
    const c = new Raw();
    c.send(get('/ws', 'Connection: Upgrade\r\nUpgrade: websocket\r\n') + get('/after'));
    await c.wait((t) => answers(t) === 2 && t.includes('"/after"'));
    expect(parseAnswers(c.text).map((a) => JSON.parse(a.body).url)).toEqual(['/ws', '/after']);
    expect(seen.map((s) => s.url)).toEqual(['/ws', '/after']);
    // the upgrade request went with its Connection/Upgrade headers (node:http without an 'upgrade' listener answers it as a request)
    expect(seen[0].headers.upgrade).toBe('websocket');
    expect(seen[0].headers.connection).toBe('upgrade');
    expect(seen[1].headers.upgrade).toBeUndefined();
    expect(c.closed).toBe(false);
    c.close();
  });

  it('tunnels after 101: bytes sent early and late reach the upstream, a half-close is passed on', async () => {
    let got = '';
    let head = '';
    rawAnswer = (socket, h, rest) => {
      head = h;
      got = rest;
      socket.write(`${SWITCH}hello`);
      socket.on('data', (d) => {
        got += d.toString('latin1');
      });
      // the client's FIN arrives as 'end': the upstream can still answer on its side
      socket.on('end', () => socket.end(` got ${got.length} bytes: ${got}`));
      return true;
    };
    const c = new Raw();
    c.send(`${upgrade('/tunnel', SHANGHAI)}early`);
    await c.wait((t) => t.endsWith('hello'));
    expect(c.text).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(c.text).toMatch(/\r\nupgrade: test-proto\r\n/i);
    expect(c.text).toMatch(/\r\nx-ez-zone: ez-sh\r\n/);
    expect(head).toMatch(/\r\nconnection: upgrade\r\n/i);
    expect(head).toMatch(/\r\nupgrade: test-proto(\r\n|$)/i);
    c.socket.end(' late');
    await c.waitClosed();
    expect(c.text.endsWith('hello got 10 bytes: early late')).toBe(true);
  });

  it('passes a half-close by the upstream on: the client sees the end and can still send', async () => {
    let got = '';
    rawAnswer = (socket, _h, rest) => {
      got = rest;
      socket.on('data', (d) => {
        got += d.toString('latin1');
      });
      socket.end(`${SWITCH}server done`); // 101, bytes, then FIN: it still reads
      return true;
    };
    // a client that keeps its side open after the server's FIN
    const c = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let text = '';
    let ended = false;
    c.on('data', (d: Buffer) => {
      text += d.toString('latin1');
    });
    c.on('end', () => {
      ended = true;
    });
    c.write(upgrade('/server-first', SHANGHAI));
    for (let i = 0; i < 300 && !ended; i++) await new Promise((r) => setTimeout(r, 10));
    expect(ended).toBe(true);
    expect(text).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(text.endsWith('\r\n\r\nserver done')).toBe(true);
    c.write('client still talking');
    for (let i = 0; i < 300 && got !== 'client still talking'; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(got).toBe('client still talking');
    c.destroy();
  });

  it('closes the client connection when the upstream dies after 101, and goes on serving', async () => {
    rawAnswer = (socket) => {
      socket.write(`${SWITCH}first`);
      setTimeout(() => socket.resetAndDestroy(), 20); // a reset, not a FIN: the process died
      return true;
    };
    const c = new Raw();
    c.send(upgrade('/dies', SHANGHAI));
    await c.waitClosed();
    expect(c.text).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(c.text.endsWith('\r\n\r\nfirst')).toBe(true);
    const res = await request(`${router.url}/after`, { headers: { 'X-Ez-Route': BEIJING } });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
  });

  it('answers 503 when the upstream dies before answering an upgrade; the connection goes on as HTTP', async () => {
    rawAnswer = (socket) => {
      socket.destroy();
      return true;
    };
    const c = new Raw();
    c.send(upgrade('/dies-early', SHANGHAI));
    await c.wait((t) => t.endsWith('}}'));
    expect(c.text).toMatch(/^HTTP\/1\.1 503 /);
    expect(c.text).toContain('EZ_ZONE_UNAVAILABLE');
    c.send(get('/after'));
    await c.wait((t) => t.includes('"/after"'));
    c.close();
  });

  it('respects backpressure through a tunnel: a client that stops reading holds the upstream back', async () => {
    const total = 64 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let written = 0;
    rawAnswer = (socket) => {
      socket.write(SWITCH);
      const pump = (): void => {
        while (written < total) {
          written += chunk.length;
          if (!socket.write(chunk)) {
            socket.once('drain', pump);
            return;
          }
        }
        socket.end();
      };
      pump();
      return true;
    };
    const c = connect(port, '127.0.0.1');
    let received = 0;
    let headSeen = false;
    let text = '';
    const ended = new Promise<void>((resolve) => c.on('end', resolve));
    c.on('data', (d: Buffer) => {
      if (!headSeen) {
        text += d.toString('latin1');
        const end = text.indexOf('\r\n\r\n');
        if (end < 0) return;
        headSeen = true;
        received += text.length - end - 4;
        c.pause(); // stop reading: the router must stop reading the upstream too
        return;
      }
      received += d.length;
    });
    c.write(upgrade('/flood', SHANGHAI));
    // wait until the upstream is held back: `written` stops growing
    let last = -1;
    let still = 0;
    while (still < 3) {
      await new Promise((r) => setTimeout(r, 100));
      still = written === last ? still + 1 : 0;
      last = written;
    }
    expect(text).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(written).toBeLessThan(total);
    c.resume();
    await ended;
    expect(received).toBe(total);
    c.destroy();
  });
});
