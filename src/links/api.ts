// The link server's Toxiproxy HTTP API: routes, bodies, answers.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Counter, Histogram } from 'prom-client';
import { HttpError, readJson } from '../util/http-json.js';
import type { Logger } from '../util/log.js';
import { type ProxyCollection, parseProxyInput } from './collection.js';
import { ApiError, badBody } from './errors.js';
import { parseToxic, parseToxicUpdate, toxicJson } from './toxic.js';

/** The Toxiproxy version whose API this server speaks. */
export const TOXIPROXY_API_VERSION = '2.12.0';
const MAX_BODY = 1024 * 1024;

export interface ApiMetrics {
  requests: Counter<'route' | 'status'>;
  duration: Histogram<'route'>;
}

type Reply = { status: number; body?: unknown };

/**
 * Toxiproxy's HTTP API: same paths, methods, status codes and JSON shapes (2.12), plus the
 * extensions documented in docs/links.md (`/proxies/{proxy}/connections`, `stream: "both"`, toxics in
 * populate). Every handler works on in-memory state and answers at once: none waits for traffic.
 */
export function createApiHandler(proxies: ProxyCollection, log: Logger, metrics: ApiMetrics) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    let route = 'unknown';
    let reply: Reply;
    try {
      if (req.headers['user-agent']?.startsWith('Mozilla/')) {
        // Toxiproxy refuses browsers, so a web page cannot reconfigure links behind the user's back
        throw new ApiError(403, 'User agent not allowed');
      }
      const path = (req.url ?? '/').split('?')[0];
      let parts: string[];
      try {
        parts = path.split('/').slice(1).map(decodeURIComponent);
      } catch {
        throw new ApiError(400, `bad URL encoding in ${JSON.stringify(path.slice(0, 100))}`);
      }
      const m = req.method ?? 'GET';
      const body = (): Promise<unknown> => readBody(req);
      const allow = (...methods: string[]): void => {
        if (!methods.includes(m))
          throw new ApiError(405, `method ${m} not allowed on ${route}: expected ${methods.join(', ')}`);
      };
      const [a, proxyName, c, toxicName, ...rest] = parts;
      if (rest.length > 0 || parts.some((p, i) => p === '' && i > 0)) {
        route = 'unknown';
        throw new ApiError(404, `not found: ${m} ${path.slice(0, 100)}`);
      }
      if (parts.length === 1 && a === 'version') {
        route = '/version';
        allow('GET');
        reply = { status: 200, body: { version: TOXIPROXY_API_VERSION, server: 'ezctl-links' } };
      } else if (parts.length === 1 && a === 'reset') {
        route = '/reset';
        allow('POST');
        await proxies.reset();
        reply = { status: 204 };
      } else if (parts.length === 1 && a === 'populate') {
        route = '/populate';
        allow('POST');
        const created = await proxies.populate(await body());
        reply = { status: 201, body: { proxies: created.map((p) => p.json()) } };
      } else if (parts.length === 1 && a === 'proxies') {
        route = '/proxies';
        allow('GET', 'POST');
        if (m === 'GET') {
          reply = { status: 200, body: Object.fromEntries(proxies.all().map((p) => [p.name, p.json()])) };
        } else {
          const proxy = await proxies.create(parseProxyInput(await body()));
          reply = { status: 201, body: proxy.json() };
        }
      } else if (parts.length === 2 && a === 'proxies') {
        route = '/proxies/{proxy}';
        allow('GET', 'POST', 'PATCH', 'DELETE');
        if (m === 'GET') reply = { status: 200, body: proxies.get(proxyName).json() };
        else if (m === 'DELETE') {
          await proxies.remove(proxyName);
          reply = { status: 204 };
        } else {
          proxies.get(proxyName); // 404 before reading the body
          reply = { status: 200, body: (await proxies.update(proxyName, await body())).json() };
        }
      } else if (parts.length === 3 && a === 'proxies' && c === 'toxics') {
        route = '/proxies/{proxy}/toxics';
        allow('GET', 'POST');
        const proxy = proxies.get(proxyName);
        if (m === 'GET') reply = { status: 200, body: proxy.toxics.map(toxicJson) };
        else {
          const spec = parseToxic(await body());
          proxies.get(proxyName).addToxic(spec);
          reply = { status: 200, body: toxicJson(spec) };
        }
      } else if (parts.length === 3 && a === 'proxies' && c === 'connections') {
        route = '/proxies/{proxy}/connections';
        allow('GET');
        reply = { status: 200, body: proxies.get(proxyName).connectionsJson() };
      } else if (parts.length === 4 && a === 'proxies' && c === 'toxics') {
        route = '/proxies/{proxy}/toxics/{toxic}';
        allow('GET', 'POST', 'PATCH', 'DELETE');
        const proxy = proxies.get(proxyName);
        if (m === 'GET') reply = { status: 200, body: toxicJson(proxy.getToxic(toxicName)) };
        else if (m === 'DELETE') {
          proxy.removeToxic(toxicName);
          reply = { status: 204 };
        } else {
          const current = proxy.getToxic(toxicName);
          const spec = parseToxicUpdate(current, await body());
          proxy.replaceToxic(spec);
          reply = { status: 200, body: toxicJson(spec) };
        }
      } else {
        throw new ApiError(404, `not found: ${m} ${path.slice(0, 100)}`);
      }
    } catch (err) {
      if (err instanceof ApiError)
        reply = { status: err.status, body: { error: err.message, status: err.status } };
      else {
        log.error({ err, method: req.method, url: req.url }, 'API handler failed');
        reply = { status: 500, body: { error: String((err as Error)?.message ?? err), status: 500 } };
      }
    }
    send(res, reply);
    metrics.requests.inc({ route, status: String(reply.status) });
    metrics.duration.observe({ route }, (performance.now() - started) / 1000);
    log.debug({ method: req.method, url: req.url, status: reply.status }, 'api');
  };
}

function send(res: ServerResponse, reply: Reply): void {
  if (res.headersSent) return;
  if (reply.status === 204 || reply.body === undefined) {
    res.writeHead(reply.status);
    res.end();
    return;
  }
  const text = `${JSON.stringify(reply.body)}\n`;
  res.writeHead(reply.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * The request body as JSON (the shared reader, src/util/http-json.ts); a bad or oversized body is
 * a 400/413 in Toxiproxy's error shape.
 */
async function readBody(req: IncomingMessage): Promise<unknown> {
  try {
    return await readJson(req, MAX_BODY, { allowEmpty: false });
  } catch (err) {
    if (!(err instanceof HttpError)) throw badBody((err as Error).message);
    if (err.status === 413) throw new ApiError(413, `request body too large: more than ${MAX_BODY} bytes`);
    throw badBody(err.message.replace(/^body: /, ''));
  }
}
