import { Agent, request } from 'undici';
import type { Op, OpKind } from './history.js';

/**
 * The workload's client: speaks to APIRouter like a user's app does (HTTP + X-Ez-Route) and turns
 * each answer — or each failure to get one — into one history entry, never an exception. A
 * refusal the system states (a 4xx, an `EZ_LOCKED` 503) is `fail`; a timeout, a broken connection
 * or another 5xx is `info` — the write may have happened. Every entry that is not `ok` carries an
 * `EZ_` code: the system's own, `EZ_HTTP_<status>` for an answer without one, and
 * `EZ_CLIENT_<code>` for an error below HTTP (`EZ_CLIENT_ECONNREFUSED`, `EZ_CLIENT_HEADERS_TIMEOUT`).
 */
export class OrderClient {
  private readonly agent: Agent;

  constructor(
    private readonly routerUrl: string,
    private readonly timeoutMs = 5_000,
  ) {
    this.agent = new Agent({ connections: 64, keepAliveTimeout: 10_000 });
  }

  async create(geo: { lat: number; lng: number }, n: number): Promise<Op> {
    const tag = `geo=${geo.lat},${geo.lng}`;
    return this.call('create', 'POST', '/orders', tag, {
      user: `u-${n}`,
      merchant: `m-${n % 97}`,
      amountCents: 1000 + (n % 5000),
    });
  }

  async act(kind: Exclude<OpKind, 'create'>, orderId: string): Promise<Op> {
    const body = kind === 'pickup' ? { rider: `r-${orderId.slice(-3)}` } : {};
    return this.call(kind, 'POST', `/orders/${orderId}/${kind}`, `order=${orderId}`, body, orderId);
  }

  private async call(
    kind: OpKind,
    method: 'POST',
    path: string,
    tag: string,
    body: object,
    orderId?: string,
  ): Promise<Op> {
    const startedAt = Date.now();
    const { body: _answer, ...a } = await callRouter(this.agent, this.routerUrl, {
      method,
      path,
      tag,
      body,
      timeoutMs: this.timeoutMs,
    });
    return { kind, tag, startedAt, ...a, orderId: a.orderId ?? orderId };
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/** What one request through APIRouter came to: the history's view of an answer (or of none). */
export interface RouterAnswer {
  result: 'ok' | 'fail' | 'info';
  status?: number;
  error?: string;
  detail?: string;
  zone?: string;
  shard?: number;
  epoch?: number;
  orderId?: string;
  state?: string;
  /** the answer's JSON (ok only) */
  body?: any;
  ms: number;
}

/**
 * One request through APIRouter, never an exception: a refusal the system states (a 4xx, an
 * `EZ_LOCKED` 503) is `fail`; a timeout, a broken connection or another 5xx is `info`.
 */
export async function callRouter(
  agent: Agent,
  routerUrl: string,
  r: { method: 'GET' | 'POST'; path: string; tag: string; body?: object; timeoutMs: number },
): Promise<RouterAnswer> {
  const t0 = performance.now();
  const op: RouterAnswer = { result: 'info', ms: 0 };
  try {
    const res = await request(`${routerUrl}${r.path}`, {
      method: r.method,
      dispatcher: agent,
      headers: { 'content-type': 'application/json', 'x-ez-route': r.tag },
      body: r.body === undefined ? undefined : JSON.stringify(r.body),
      headersTimeout: r.timeoutMs,
      bodyTimeout: r.timeoutMs,
    });
    const text = await res.body.text();
    op.status = res.statusCode;
    const h = (name: string) => {
      const v = res.headers[name];
      return typeof v === 'string' ? v : undefined;
    };
    op.zone = h('x-ez-zone');
    if (h('x-ez-shard')) op.shard = Number(h('x-ez-shard'));
    if (h('x-ez-epoch')) op.epoch = Number(h('x-ez-epoch'));
    const json = safeJson(text);
    if (res.statusCode >= 200 && res.statusCode < 300) {
      op.result = 'ok';
      op.body = json;
      const order = json?.order ?? json;
      if (order?.id && json?.user === undefined) op.orderId = String(order.id);
      if (order?.state) op.state = String(order.state);
    } else {
      // a 4xx or a lock refusal was not done; any other 5xx (an unreachable or timed-out
      // eZone) leaves the outcome unknown
      const code = json?.error?.code;
      op.result = res.statusCode < 500 || code === 'EZ_LOCKED' ? 'fail' : 'info';
      op.error = typeof code === 'string' ? code : `EZ_HTTP_${res.statusCode}`;
    }
  } catch (err) {
    op.result = 'info';
    op.error = clientErrorCode(err);
    op.detail = (err as Error)?.message ?? String(err);
  }
  op.ms = performance.now() - t0;
  return op;
}

function safeJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The `EZ_CLIENT_…` code of an error below HTTP, so the report's error tallies read like the
 * system's own codes: node's errno code (ECONNREFUSED, ECONNRESET) or undici's without its
 * `UND_ERR_` prefix (HEADERS_TIMEOUT, SOCKET); `EZ_CLIENT_ERROR` when the error names none.
 */
export function clientErrorCode(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const raw = typeof e?.code === 'string' ? e.code : typeof e?.cause?.code === 'string' ? e.cause.code : '';
  const code = raw
    .replace(/^UND_ERR_/, '')
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, '_');
  return code ? `EZ_CLIENT_${code}` : 'EZ_CLIENT_ERROR';
}
