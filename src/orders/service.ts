// The sample order service of one eZone: an HTTP JSON API for an order's life, owner-only writes.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { z } from 'zod';
import { CacheAside } from '../cache/index.js';
import { H_EPOCH, H_ROUTE, H_SHARD, H_ZONE } from '../router/index.js';
import {
  checkWrite,
  OrderIdGenerator,
  orderIdProblem,
  RouteError,
  shardOfValidOrderId,
} from '../routing/index.js';
import type { RoutingSource } from '../sdk/index.js';
import { ErrorCode } from '../shared/error-codes.js';
import { MAX_SHARD } from '../topology/index.js';
import { HttpError, readJson as readJsonBody, sendError, sendJson } from '../util/http-json.js';
import { createRegistry, handleOps } from '../util/ops.js';
import { summarizeIssues } from '../util/validation.js';
import { isAction, type OrderAction, transitionProblem } from './lifecycle.js';
import { type Order, type OrderStore, orderVersion, PhoneTaken } from './store.js';

/**
 * The sample order service of one eZone (DESIGN §1, §7): an HTTP JSON API for an order's life.
 *
 *   POST /orders                         {user, merchant, amountCents}; shard from X-Ez-Shard
 *                                        (the router's decision) or X-Ez-Route → 201 {order}
 *   POST /orders/:id/accept|pickup|deliver|cancel   ({rider} for pickup) → 200 {order}
 *   GET  /orders/:id                     any eZone (every eZone holds a copy), cache-aside
 *   GET  /internal/orders/:id/summary    the SOA method: owner eZone only
 *   POST /users                          {phone, name} → 201 {user}; a Global-Zone write (the
 *                                        DAL runs it in the master eZone); phone taken → 409
 *   GET  /users/:id                      this eZone's copy
 *
 * Writes are for the shard's owner only: before the body is read, the shard is checked against
 * this service's own routing source (at least at the epoch the caller decided with): not owned
 * → 421 EZ_WRONG_ZONE, shard locked → 503 EZ_LOCKED, order locked → 503 EZ_LOCKED order=ID.
 */
export interface OrderServiceOptions {
  zone: string;
  source: RoutingSource;
  store: OrderStore;
  /** the eZone's Redis (cache-aside); null: no cache */
  redis: Redis | null;
  /** key of an order in Redis, `{id}` replaced (the topology's orders.cacheKey) */
  cacheKey: string;
  log: Logger;
  registry?: Registry;
  host?: string;
  port?: number;
  /** a caller decided at a newer epoch than ours: wait this long for it before judging ownership */
  epochWaitMs?: number;
  /** cache TTL of an order (ms) */
  cacheTtlMs?: number;
  /**
   * This service's clock minus the host's (ms; default 0): the time written into the order ids it
   * makes. Only a drill's `clock` nemesis sets it (EZ_CLOCK_OFFSET_MS); MariaDB's NOW(6) is not shifted.
   */
  clockOffsetMs?: number;
}

export interface OrderService {
  server: Server;
  url: string;
  port: number;
  registry: Registry;
  close(): Promise<void>;
}

const Id = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, { error: 'expected 1-64 of [A-Za-z0-9_.:-]' });
const CreateBody = z.strictObject({
  user: Id,
  merchant: Id,
  amountCents: z
    .number({ error: 'expected an amount in cents (integer)' })
    .int({ error: 'expected an amount in cents (integer)' })
    .min(1)
    .max(1_000_000_000),
});
const PickupBody = z.strictObject({ rider: Id.optional() });
const RegisterBody = z.strictObject({
  phone: z
    .string()
    .regex(/^\+?[0-9]{5,20}$/, { error: 'expected a phone number: 5-20 digits, optionally after +' }),
  name: z.string().min(1).max(128),
});
const EmptyBody = z.strictObject({});

const MAX_BODY = 64 * 1024;

/** An answer other than 2xx, with routing headers as `[name, value, …]` pairs. */
const refusal = (status: number, code: string, message: string, headers: string[] = []): HttpError =>
  new HttpError(status, code, message, {}, Object.fromEntries(pairs(headers)));
const pairs = (flat: string[]): [string, string][] =>
  Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i], flat[2 * i + 1]]);

/**
 * A DAL refusal (MySQL error 1105, message starting with a DESIGN §4 code word) as an HTTP answer:
 * the service's own checks normally answer first; this is the safety net speaking.
 */
function dalRefusal(err: unknown): HttpError | null {
  const e = err as { errno?: number; sqlMessage?: string; message?: string };
  const text = e?.sqlMessage ?? e?.message ?? '';
  const m = /^(EZ_[A-Z_]+)\b/.exec(text);
  if (e?.errno !== 1105 || !m) return null;
  const code = m[1];
  // the DAL judged at its own epoch (in its message): passed on, so a gateway that decided with an
  // older table knows to wait for that one and hold or re-route the request (not fail it)
  const epoch = /\bepoch=(\d{1,15})\b/.exec(text)?.[1];
  const shard = /\bshard=(\d{1,4})\b/.exec(text)?.[1];
  const judged = [...(shard ? [H_SHARD, shard] : []), ...(epoch ? [H_EPOCH, epoch] : [])];
  if (code === ErrorCode.wrongZone) return refusal(421, code, text, judged);
  if (code === ErrorCode.locked) return refusal(503, code, text, ['retry-after', '1', ...judged]);
  if (code === ErrorCode.globalUnavailable || code === ErrorCode.notReady || code === ErrorCode.unavailable)
    return refusal(503, code, text, ['retry-after', '1']);
  return refusal(500, code, text);
}

/** mysql2 errors that mean the database could not be reached or dropped the connection: retry later. */
const DB_DOWN = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
  'ER_CON_COUNT_ERROR',
]);
export function isDatabaseDown(err: unknown): boolean {
  const e = err as { code?: string; fatal?: boolean };
  return (e?.code !== undefined && DB_DOWN.has(e.code)) || e?.fatal === true;
}

const publicOrder = ({ origin: _origin, ...o }: Order) => o;

export async function startOrderService(opts: OrderServiceOptions): Promise<OrderService> {
  const { zone, source, store, log } = opts;
  const registry = opts.registry ?? createRegistry('orders');
  const epochWaitMs = opts.epochWaitMs ?? 500;
  const offset = opts.clockOffsetMs ?? 0;
  const now = offset === 0 ? Date.now : () => Date.now() + offset;
  const cache = opts.redis ? new CacheAside(opts.redis, { ttlMs: opts.cacheTtlMs ?? 300_000 }) : null;
  const generators = new Map<number, OrderIdGenerator>();
  const registers = [registry];
  const requests = new Counter({
    name: 'ez_orders_requests_total',
    help: 'requests answered, by operation and HTTP status',
    labelNames: ['op', 'code'],
    registers,
  });
  const duration = new Histogram({
    name: 'ez_orders_request_duration_seconds',
    help: 'time to answer, by operation',
    labelNames: ['op'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const cacheReads = new Counter({
    name: 'ez_orders_cache_reads_total',
    help: 'order reads by cache outcome (hit, miss, error: Redis unavailable, read from MariaDB)',
    labelNames: ['result'],
    registers,
  });
  const writes = new Counter({
    name: 'ez_orders_writes_total',
    help: 'accepted order writes, by operation and shard',
    labelNames: ['op', 'shard'],
    registers,
  });
  new Gauge({
    name: 'ez_orders_routing_epoch',
    help: 'epoch of the routing table this service judges ownership with',
    registers,
    collect() {
      this.set(source.epoch);
    },
  });

  const keyOf = (id: string): string => opts.cacheKey.replace('{id}', id);

  /** The epoch the caller decided with (X-Ez-Epoch), if any. */
  const callerEpoch = (req: IncomingMessage): number => {
    const v = req.headers[H_EPOCH];
    return typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : 0;
  };

  /** Throws the 421/503 answer when this eZone may not write `shard` (and `orderId`) now (the shared write guard). */
  async function checkOwner(req: IncomingMessage, shard: number, orderId?: string): Promise<number> {
    const wanted = callerEpoch(req);
    if (wanted > source.epoch) await source.waitForEpoch(wanted, epochWaitMs);
    const v = checkWrite(source.table, zone, shard, orderId);
    if (v.ok) return v.epoch;
    const epochHeaders = [H_SHARD, String(shard), H_EPOCH, String(v.epoch)];
    if (v.code === 'EZ_UNKNOWN_SHARD')
      throw refusal(400, ErrorCode.badRoute, `shard ${shard} is not in the routing table (epoch ${v.epoch})`);
    if (v.code === 'EZ_WRONG_ZONE') throw refusal(421, ErrorCode.wrongZone, v.message, epochHeaders);
    throw refusal(503, ErrorCode.locked, v.message, ['retry-after', '1', ...epochHeaders]);
  }

  /** The shard of a new order: the router's decision (X-Ez-Shard), else our own routing of X-Ez-Route. */
  function shardOfRequest(req: IncomingMessage): number {
    const forwarded = req.headers[H_SHARD];
    if (typeof forwarded === 'string') {
      if (!/^\d{1,4}$/.test(forwarded) || Number(forwarded) > MAX_SHARD)
        throw refusal(
          400,
          ErrorCode.badRoute,
          `X-Ez-Shard: "${forwarded}" is not a shard id (0..${MAX_SHARD})`,
        );
      return Number(forwarded);
    }
    const tag = req.headers[H_ROUTE];
    if (typeof tag !== 'string')
      throw refusal(
        400,
        ErrorCode.badRoute,
        'no shard: send X-Ez-Route (e.g. geo=31.2304,121.4737) or X-Ez-Shard',
      );
    try {
      return source.resolver.route(tag).shard;
    } catch (err) {
      if (err instanceof RouteError) throw refusal(400, ErrorCode.badRoute, err.message);
      throw err;
    }
  }

  async function readJson<T>(req: IncomingMessage, schema: z.ZodType<T>): Promise<T> {
    const parsed = schema.safeParse(await readJsonBody(req, MAX_BODY));
    if (!parsed.success)
      throw refusal(400, ErrorCode.badRequest, `body: ${summarizeIssues(parsed.error.issues)}`);
    return parsed.data;
  }

  function checkId(id: string): number {
    const problem = orderIdProblem(id);
    if (problem) throw refusal(400, 'EZ_BAD_REQUEST', `order id: ${problem}`);
    return shardOfValidOrderId(id);
  }

  async function readOrder(id: string): Promise<{ order: Order | null; cache: string }> {
    if (cache === null) return { order: await store.get(id), cache: 'off' };
    try {
      const r = await cache.get(keyOf(id), () => store.get(id), orderVersion);
      cacheReads.labels(r.hit ? 'hit' : 'miss').inc();
      return { order: r.value, cache: r.hit ? 'hit' : 'miss' };
    } catch (err) {
      cacheReads.labels('error').inc();
      log.warn({ err: (err as Error).message, id }, 'cache unavailable: read from MariaDB');
      return { order: await store.get(id), cache: 'error' };
    }
  }

  /** After our own write: drop the cached copy (DRC's invalidator does the same for replicated writes). */
  async function invalidate(id: string): Promise<void> {
    if (opts.redis === null) return;
    await opts.redis.del(keyOf(id)).catch((err) => {
      log.warn({ err: (err as Error).message, id }, 'cache invalidation failed');
    });
  }

  async function create(req: IncomingMessage): Promise<[number, unknown, string[]]> {
    const shard = shardOfRequest(req);
    const epoch = await checkOwner(req, shard);
    const body = await readJson(req, CreateBody);
    let gen = generators.get(shard);
    if (!gen) {
      gen = new OrderIdGenerator(shard, now);
      generators.set(shard, gen);
    }
    for (let attempt = 1; ; attempt++) {
      const id = gen.next();
      try {
        const order = await store.create({
          id,
          shard,
          user: body.user,
          merchant: body.merchant,
          amountCents: body.amountCents,
        });
        writes.labels('create', String(shard)).inc();
        log.info({ op: 'create', id, shard, epoch, version: order.version }, 'order written');
        return [
          201,
          { order: publicOrder(order), zone, epoch },
          [H_SHARD, String(shard), H_EPOCH, String(epoch)],
        ];
      } catch (err) {
        // an id another eZone made in the same millisecond before a switch: take the next one
        if ((err as { code?: string }).code !== 'ER_DUP_ENTRY' || attempt >= 3) throw err;
      }
    }
  }

  async function transition(
    req: IncomingMessage,
    id: string,
    action: OrderAction,
  ): Promise<[number, unknown, string[]]> {
    const shard = checkId(id);
    const epoch = await checkOwner(req, shard, id);
    const body = await readJson(req, action === 'pickup' ? PickupBody : EmptyBody);
    const r = await store.transition(id, action, (body as { rider?: string }).rider);
    if (!r.ok) {
      if (r.reason === 'not-found') throw refusal(404, ErrorCode.notFound, `no order ${id}`);
      throw refusal(
        409,
        'EZ_BAD_TRANSITION',
        transitionProblem(action, r.state) ?? `order ${id} changed meanwhile`,
      );
    }
    await invalidate(id);
    writes.labels(action, String(shard)).inc();
    log.info(
      { op: action, id, shard, epoch, state: r.order.state, version: r.order.version },
      'order written',
    );
    return [
      200,
      { order: publicOrder(r.order), zone, epoch },
      [H_SHARD, String(shard), H_EPOCH, String(epoch)],
    ];
  }

  async function get(id: string): Promise<[number, unknown, string[]]> {
    checkId(id);
    const { order, cache: how } = await readOrder(id);
    if (!order) throw refusal(404, ErrorCode.notFound, `no order ${id}`);
    return [200, { order: publicOrder(order), zone }, ['x-cache', how]];
  }

  async function summary(req: IncomingMessage, id: string): Promise<[number, unknown, string[]]> {
    const shard = checkId(id);
    const epoch = await checkOwner(req, shard);
    const { order } = await readOrder(id);
    if (!order) throw refusal(404, ErrorCode.notFound, `no order ${id}`);
    return [
      200,
      { id, shard, state: order.state, version: order.version, servedBy: zone, epoch },
      [H_SHARD, String(shard), H_EPOCH, String(epoch)],
    ];
  }

  async function register(req: IncomingMessage): Promise<[number, unknown, string[]]> {
    const body = await readJson(req, RegisterBody);
    const id = `u-${randomUUID()}`;
    try {
      const user = await store.registerUser({ id, phone: body.phone, name: body.name });
      log.info({ op: 'register', id }, 'user registered');
      return [201, { user, zone }, []];
    } catch (err) {
      if (err instanceof PhoneTaken) throw refusal(409, ErrorCode.conflict, err.message);
      throw err;
    }
  }

  async function getUser(id: string): Promise<[number, unknown, string[]]> {
    const user = await store.getUser(id);
    if (!user) throw refusal(404, ErrorCode.notFound, `no user ${id} in ${zone}`);
    return [200, { user, zone }, []];
  }

  /** Route a request: [status, body, headers] or an HttpError. */
  function dispatch(
    req: IncomingMessage,
    path: string[],
  ): { op: string; run: () => Promise<[number, unknown, string[]]> } {
    const m = req.method;
    if (path[0] === 'orders') {
      if (path.length === 1 && m === 'POST') return { op: 'create', run: () => create(req) };
      if (path.length === 2 && m === 'GET') return { op: 'get', run: () => get(path[1]) };
      if (path.length === 3 && m === 'POST' && isAction(path[2]))
        return { op: path[2], run: () => transition(req, path[1], path[2] as OrderAction) };
    }
    if (path[0] === 'users') {
      if (path.length === 1 && m === 'POST') return { op: 'register', run: () => register(req) };
      if (path.length === 2 && m === 'GET') return { op: 'get-user', run: () => getUser(path[1]) };
    }
    if (
      path[0] === 'internal' &&
      path[1] === 'orders' &&
      path.length === 4 &&
      path[3] === 'summary' &&
      m === 'GET'
    )
      return { op: 'summary', run: () => summary(req, path[2]) };
    return {
      op: 'unknown',
      run: async () => {
        throw refusal(
          404,
          ErrorCode.notFound,
          `no route ${m} /${path.join('/')} (expected POST /orders, GET /orders/:id, POST /orders/:id/{accept,pickup,deliver,cancel}, GET /internal/orders/:id/summary, POST /users, GET /users/:id)`,
        );
      },
    };
  }

  const health = async () => {
    const checks: Record<string, unknown> = { zone, epoch: source.epoch, staleMs: source.staleMs() };
    let ok = true;
    try {
      await store.ping();
      checks.mysql = 'ok';
    } catch (err) {
      ok = false;
      checks.mysql = (err as Error).message;
    }
    if (opts.redis) checks.redis = opts.redis.status; // a cache outage degrades reads, never health
    return { ok, part: 'orders', ...checks };
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (handleOps(req, res, registry, health)) return;
    const t0 = performance.now();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = (q < 0 ? url : url.slice(0, q)).split('/').filter(Boolean);
    const { op, run } = dispatch(req, path);
    const ezHeaders = [H_ZONE, zone];
    run().then(
      ([status, body, headers]) => {
        sendJson(res, status, body, [...ezHeaders, ...headers]);
        requests.labels(op, String(status)).inc();
        duration.labels(op).observe((performance.now() - t0) / 1000);
      },
      (err) => {
        let e: HttpError;
        const dal = err instanceof HttpError ? null : dalRefusal(err);
        if (err instanceof HttpError || dal) {
          e = err instanceof HttpError ? err : dal!;
          if (e.status === 421) log.info({ op, path: url, msg421: e.message }, 'wrong eZone');
          if (dal) log.warn({ op, path: url, code: dal.code }, 'refused by the DAL');
        } else if (isDatabaseDown(err)) {
          // the eZone's database is down or restarting: retryable, never a 500 (the write may or may
          // not have committed when the connection dropped mid-statement; the caller retries or asks)
          log.warn({ op, path: url, err: (err as Error).message }, 'database unavailable');
          e = refusal(
            503,
            ErrorCode.unavailable,
            `database of ${zone} unavailable: ${(err as Error).message}`,
            ['retry-after', '1'],
          );
        } else {
          log.error({ err, op, path: url }, 'request failed');
          e = refusal(500, ErrorCode.internal, `internal error: ${(err as Error).message}`);
        }
        sendError(res, e, ezHeaders);
        requests.labels(op, String(e.status)).inc();
        duration.labels(op).observe((performance.now() - t0) / 1000);
      },
    );
  });
  server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address() as { address: string; port: number };
  let closing: Promise<void> | undefined;
  return {
    server,
    url: `http://${addr.address}:${addr.port}`,
    port: addr.port,
    registry,
    close() {
      closing ??= (async () => {
        // stop accepting; in-flight requests finish, then their keep-alive connections close
        const sweep = setInterval(() => server.closeIdleConnections(), 100);
        const cut = setTimeout(() => server.closeAllConnections(), 8000);
        await new Promise<void>((resolve) => server.close(() => resolve()));
        clearInterval(sweep);
        clearTimeout(cut);
      })();
      return closing;
    },
  };
}
