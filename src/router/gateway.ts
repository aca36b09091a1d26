import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import {
  checkWrite,
  orderLockOf,
  type RouteDecision,
  RouteError,
  type RouteTag,
  routeTagFrom,
  type WriteRefused,
} from '../routing/index.js';
import type { RoutingSource } from '../sdk/index.js';
import type { AccessEntry, AccessLog } from './access-log.js';
import { RequestBody } from './body.js';
import type { FrontHandler, FrontRequest } from './front.js';
import {
  DROP_REQUEST,
  DROP_RESPONSE,
  forwardLines,
  H_EPOCH,
  H_FORWARDED,
  H_ROUTE,
  H_SOA_PATH,
  H_VIA,
  H_XF_PROTO,
  H_XFF,
  REQUEST_NAME_LENGTHS,
  RESPONSE_NAME_LENGTHS,
  SHARD_LINE,
} from './headers.js';
import type { GatewayMetrics, TargetStats } from './metrics.js';
import { ErrorCode, errorBody, unsupportedCoding } from './reply.js';
import {
  type Upstream,
  type UpstreamConn,
  UpstreamFailure,
  type UpstreamGroup,
  type UpstreamHandler,
} from './upstream.js';

/**
 * The request path shared by APIRouter and the SOA Proxy (DESIGN §3): routing tag → decision
 * (the routing core's Resolver, through a RoutingSource) → hold while the shard is locked → target
 * (an eZone's services, a peer SOA Proxy) → stream the request and the answer through a keep-alive
 * connection → one retry after a 421. No framework: one Exchange object per request is the front's
 * handler and the upstream's handler at once, so the hot path allocates no closures; headers are
 * copied as `name: value\r\n` text straight into the outgoing heads. An Upgrade request (WebSocket)
 * takes the same path on a fresh upstream connection; a 101 makes both connections one Tunnel.
 */

/** Where a decision is sent. Built once per eZone (and route) by the part, reused for every request. */
export interface Target {
  /** the eZone whose service answers */
  zone: string;
  /** metrics/log label: zone (APIRouter), local / remote / inbound (SOA Proxy) */
  route: string;
  group: UpstreamGroup;
  stats: TargetStats;
  /** extra request header lines (`x-ez-via: ez-bj\r\n`), built once */
  headerLines: string;
  /** `x-ez-zone: <zone>\r\n`, built once */
  zoneLine: string;
}

/** An answer the gateway gives itself instead of forwarding. */
export interface Refusal {
  status: number;
  code: string;
  message: string;
}

export interface GatewayOptions {
  /** `router` or `soa`: names the part in logs */
  part: string;
  source: RoutingSource;
  metrics: GatewayMetrics;
  accessLog: AccessLog;
  log: Logger;
  /** how long a request for a locked shard is held for the lock to clear (DESIGN §3: 500 ms) */
  lockWaitMs: number;
  /** a request body up to this size is kept so it can be replayed after a 421 */
  replayLimitBytes: number;
  /** SOA Proxy only: this eZone (reads X-Ez-Via, sets X-Ez-Soa-Path) */
  soaZone?: string;
  /** the target of a decision; `via` is the caller eZone of a call forwarded by a peer SOA Proxy */
  target(decision: RouteDecision, via: string | undefined): Target | Refusal;
}

export const DEFAULT_LOCK_WAIT_MS = 500;
export const DEFAULT_REPLAY_LIMIT = 64 * 1024;

/** Connection failures: nothing reached the instance, so another instance of the same eZone may be tried. */
const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  UpstreamFailure.connectTimeout,
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);

const RETRY_AFTER = 'retry-after: 1\r\n';
/** `Expect` values node:http accepts (RFC 9110 §10.1.1) */
const CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i;
/**
 * The one transfer coding the gateway passes on: it re-frames the body it forwards, so another
 * coding (`gzip, chunked`, which llhttp accepts) would reach the service without its label. 501 and
 * close, as nginx answers (RFC 9112 §6.1).
 */
const CHUNKED = /^[ \t]*chunked[ \t]*$/i;
/** A tag taken from a cookie or the query is copied into a header: it must hold no control characters. */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

const isRefusal = (t: Target | Refusal): t is Refusal => (t as Refusal).code !== undefined;

export class Gateway {
  readonly opts: GatewayOptions;
  private epochShown = -1;
  private epochHeader = '';
  private closing = false;

  constructor(opts: GatewayOptions) {
    this.opts = opts;
  }

  /** `x-ez-epoch: N\r\n`, rebuilt only when the epoch changes. */
  epochLine(epoch: number): string {
    if (epoch !== this.epochShown) {
      this.epochShown = epoch;
      this.epochHeader = `${H_EPOCH}: ${epoch}\r\n`;
    }
    return this.epochHeader;
  }

  /** The request listener (after the part's own /healthz and /metrics). */
  handle(req: FrontRequest): void {
    const ex = new Exchange(this, req);
    req.handler = ex;
    if (this.closing) {
      req.keepAlive = false;
      ex.refuse(503, ErrorCode.shuttingDown, `${this.opts.part} is shutting down; retry on another instance`);
      return;
    }
    ex.start();
  }

  /** Stop taking requests (new ones get 503) and wait up to `timeoutMs` for in-flight ones. */
  async drain(timeoutMs: number): Promise<boolean> {
    this.closing = true;
    const deadline = Date.now() + timeoutMs;
    while (this.opts.metrics.inFlightCount > 0) {
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }
}

/** One request through the gateway: the front's handler (client side) and the upstream's (service side). */
class Exchange implements FrontHandler, UpstreamHandler {
  private readonly gw: Gateway;
  private readonly req: FrontRequest;
  private readonly t0: number;
  /** client headers to pass on as `name: value\r\n` lines, without hop-by-hop and X-Ez decision headers */
  private fwd = '';
  private hasHost = false;
  private routeHeader: string | undefined;
  private cookie: string | undefined;
  private via: string | undefined;
  /** the client's Upgrade header (sent on only when the request is an upgrade, llhttp's flag) */
  private upgradeTo: string | undefined;
  private peerEpoch = 0;
  private hasBody = false;
  /** content-length of the request, -1 when chunked or absent */
  private contentLength = -1;

  private tag: RouteTag | undefined;
  private tagSource: string | undefined;
  private tagText: string | undefined;
  private decision: RouteDecision | undefined;
  private target: Target | undefined;
  private upstream: Upstream | undefined;
  private conn: UpstreamConn | null = null;
  /** waiting in the upstream's queue for a free connection */
  private queued = false;
  private body: RequestBody | undefined;
  /** the body to send again after a 421, whole */
  private replay: Buffer | undefined;
  private connectAttempts = 0;
  private heldMs = 0;

  private status = 0;
  /** swallowing a 421 answer that will be retried */
  private swallow = false;
  private retried = false;
  private peerPath: string | undefined;
  private done = false;
  private clientGone = false;

  constructor(gw: Gateway, req: FrontRequest) {
    this.gw = gw;
    this.req = req;
    this.t0 = performance.now();
    gw.opts.metrics.begin();
  }

  start(): void {
    const req = this.req;
    const raw = req.rawHeaders;
    const soa = this.gw.opts.soaZone !== undefined;
    let fwd = '';
    let chunked = false;
    let xff: string | undefined;
    let forwarded: string | undefined;
    let hasProto = false;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i];
      const value = raw[i + 1];
      const len = name.length;
      // of the 15-letter names only x-forwarded-for matters: Accept-Encoding/-Language are not lower-cased
      if (REQUEST_NAME_LENGTHS[len] === 1 && (len !== 15 || (name.charCodeAt(0) | 0x20) === 0x78)) {
        const lower = name.toLowerCase();
        if (lower === H_ROUTE) {
          if (this.routeHeader !== undefined) {
            this.refuse(400, ErrorCode.badRoute, '2 X-Ez-Route header values (expected one)');
            return;
          }
          this.routeHeader = value;
        } else if (lower === 'host') {
          this.hasHost = true;
        } else if (lower === 'content-length') {
          this.contentLength = Number(value);
          if (this.contentLength > 0) this.hasBody = true;
        } else if (lower === 'cookie') {
          this.cookie = this.cookie === undefined ? value : `${this.cookie}; ${value}`;
        } else if (lower === H_XFF) {
          xff = xff === undefined ? value : `${xff}, ${value}`;
          continue; // sent once, with the client's address appended
        } else if (lower === H_FORWARDED) {
          forwarded = forwarded === undefined ? value : `${forwarded}, ${value}`;
          continue;
        } else if (lower === H_XF_PROTO) {
          hasProto = true; // passed on as it is
        } else if (DROP_REQUEST.has(lower)) {
          if (lower === 'transfer-encoding') {
            if (value !== 'chunked' && !CHUNKED.test(value)) {
              req.keepAlive = false; // llhttp may not even know where the body ends
              this.refuse(501, ErrorCode.badRequest, unsupportedCoding(value));
              return;
            }
            chunked = true;
          } else if (lower === 'expect' && req.httpMinor === 1) {
            if (!CONTINUE.test(value)) {
              this.refuse(
                417,
                ErrorCode.badRequest,
                `Expect: "${value}" is not supported (only 100-continue)`,
              );
              return;
            }
            req.expectContinue = true;
          } else if (lower === 'upgrade')
            this.upgradeTo = this.upgradeTo === undefined ? value : `${this.upgradeTo}, ${value}`;
          else if (soa && lower === H_VIA) this.via = value;
          else if (soa && lower === H_EPOCH) this.peerEpoch = Number(value) || 0;
          continue;
        }
      }
      fwd += `${name}: ${value}\r\n`;
    }
    // the client's address as one more hop: lines built once per connection unless the client sent its own
    const conn = req.conn;
    this.fwd =
      xff === undefined && forwarded === undefined && !hasProto
        ? fwd + conn.forwardLines
        : fwd + forwardLines(conn.clientAddress, xff, forwarded, hasProto);
    if (chunked) {
      this.hasBody = true;
      this.contentLength = -1;
    }
    if (!this.hasHost && req.httpMinor === 1) {
      // RFC 9112 §3.2 (node:http answers the same)
      this.refuse(400, ErrorCode.badRequest, 'HTTP/1.1 request without a Host header');
      return;
    }
    if (this.via === undefined) this.peerEpoch = 0; // only a peer SOA Proxy's epoch counts

    const source = this.gw.opts.source;
    if (this.peerEpoch > source.epoch) {
      // a peer SOA Proxy decided at a newer epoch: catch up (bounded) before deciding here
      source.waitForEpoch(this.peerEpoch, this.gw.opts.lockWaitMs).then(
        () => this.route(),
        () => this.route(),
      );
      return;
    }
    this.route();
  }

  private route(): void {
    if (this.clientGone) return;
    let decision: RouteDecision;
    try {
      const url = this.req.url;
      const q = this.routeHeader === undefined ? url.indexOf('?') : -1;
      const found = routeTagFrom(
        this.routeHeader !== undefined
          ? { header: this.routeHeader }
          : { cookie: this.cookie, query: q >= 0 ? url.slice(q + 1) : undefined },
      );
      if (found.source !== 'header' && hasControl(found.text))
        throw new RouteError(`${found.source} ez_route: control characters in the routing tag`);
      this.tag = found.tag;
      this.tagSource = found.source;
      this.tagText = found.text;
      decision = this.gw.opts.source.resolver.resolve(found.tag);
    } catch (err) {
      if (err instanceof RouteError) {
        this.refuse(400, ErrorCode.badRoute, err.message);
        return;
      }
      throw err;
    }
    this.proceed(decision);
  }

  /** Route a decision: zone down → 503, locked → hold, else forward to its target. */
  private proceed(d: RouteDecision): void {
    this.decision = d;
    if (d.zoneState === 'down') {
      this.refuse(
        503,
        ErrorCode.zoneUnavailable,
        `eZone ${d.zone} (owner of shard ${d.shard}) is down at epoch ${d.epoch}; not sent to another eZone`,
        RETRY_AFTER,
      );
      return;
    }
    if (this.lockOf(d)) {
      void this.hold(d);
      return;
    }
    const t = this.gw.opts.target(d, this.via);
    if (isRefusal(t)) {
      this.refuse(t.status, t.code, t.message, t.status === 503 ? RETRY_AFTER : '');
      return;
    }
    this.target = t;
    this.connectAttempts = 0;
    this.dispatch();
  }

  /**
   * The lock that holds this request (the shared write guard, DESIGN §6): the shard's, or — for a
   * request that may write (not GET/HEAD/OPTIONS) routed by an order id — the order's; else null.
   */
  private lockOf(d: RouteDecision): WriteRefused | null {
    const m = this.req.method;
    const reads = m === 'GET' || m === 'HEAD' || m === 'OPTIONS';
    const orderId = !reads && d.decidedBy === 'order' ? (this.tag?.order as string | undefined) : undefined;
    if (
      d.shardState !== 'locked' &&
      (orderId === undefined || !orderLockOf(this.gw.opts.source.table, orderId))
    )
      return null; // the common case, without building a verdict
    const v = checkWrite(this.gw.opts.source.table, d.zone, d.shard, orderId);
    return !v.ok && v.code === 'EZ_LOCKED' ? v : null;
  }

  /** Wait for a newer table in which the shard serves (no polling: the source wakes us), up to lockWaitMs. */
  private async hold(first: RouteDecision): Promise<void> {
    const { source, lockWaitMs, metrics } = this.gw.opts;
    const started = performance.now();
    let d = first;
    for (;;) {
      const left = lockWaitMs - (performance.now() - started);
      if (left <= 0 || this.clientGone) break;
      const newer = await source.waitForEpoch(d.epoch + 1, left);
      if (!newer || this.clientGone) break;
      try {
        d = source.resolver.resolve(this.tag!);
      } catch (err) {
        this.heldMs = Math.round(performance.now() - started);
        this.refuse(400, ErrorCode.badRoute, (err as Error).message);
        return;
      }
      if (!this.lockOf(d)) {
        this.heldMs = Math.round(performance.now() - started);
        metrics.lockHolds.labels('released').inc();
        this.proceed(d);
        return;
      }
    }
    this.heldMs = Math.round(performance.now() - started);
    this.decision = d;
    if (this.clientGone) return;
    metrics.lockHolds.labels('timeout').inc();
    const lock = this.lockOf(d);
    this.refuse(
      503,
      ErrorCode.locked,
      `${lock?.message ?? `EZ_LOCKED shard=${d.shard} epoch=${d.epoch}`}; held ${this.heldMs} ms, retry shortly`,
      RETRY_AFTER,
    );
  }

  private dispatch(): void {
    const u = this.target!.group.pick();
    this.upstream = u;
    this.queued = true;
    // → onUpstreamConn, now or once a connection is free; an upgrade never shares a pooled one
    if (this.req.upgrade) u.acquireFresh(this);
    else u.acquire(this);
  }

  // ---- upstream handler ----------------------------------------------------------------------

  onUpstreamConn(conn: UpstreamConn): void {
    this.queued = false;
    this.conn = conn;
    const d = this.decision!;
    const t = this.target!;
    const req = this.req;
    // the client's headers, then the decision
    let head = `${req.method} ${req.url} HTTP/1.1\r\n${this.fwd}`;
    if (!this.hasHost) head += `host: ${this.upstream!.hostHeader}\r\n`;
    if (this.routeHeader === undefined && this.tagText !== undefined)
      head += `${H_ROUTE}: ${this.tagText}\r\n`;
    head += t.zoneLine + SHARD_LINE[d.shard] + this.gw.epochLine(d.epoch) + t.headerLines;
    // hop-by-hop, but an upgrade is asked of the next hop: the two are sent on as one asks for it
    if (req.upgrade) head += `connection: upgrade\r\nupgrade: ${this.upgradeTo}\r\n`;
    const isHead = req.method === 'HEAD';
    if (!this.hasBody) {
      conn.sendHead(`${head}\r\n`, isHead, true);
    } else if (this.replay !== undefined) {
      // a retry: the first attempt's body, kept whole (see retryAfter421)
      if (this.contentLength < 0) head += `content-length: ${this.replay.length}\r\n`;
      conn.sendHead(`${head}\r\n`, isHead, false);
      conn.writeBody(this.replay, false);
      conn.endBody(false);
    } else {
      if (this.contentLength < 0) head += 'transfer-encoding: chunked\r\n';
      conn.sendHead(`${head}\r\n`, isHead, false);
      this.body ??= new RequestBody(req, this.gw.opts.replayLimitBytes, this.contentLength < 0);
      this.body.attach(conn);
    }
  }

  onUpstreamHeaders(statusCode: number, headers: string[]): void {
    if ((statusCode === 421 || statusCode === 503) && !this.retried && this.replayable()) {
      let epoch = 0;
      for (let i = 0; i < headers.length; i += 2) {
        if (headers[i].length === 10 && headers[i].toLowerCase() === H_EPOCH)
          epoch = Number(headers[i + 1]) || 0;
      }
      // a 503 is taken back only when the eZone judged with a newer table than the one this
      // request was routed with: a lock we had not heard of (a switch just began). Holding that
      // table (we wait for it), we hold the request
      // like any other for a locked shard — a pause for the client, not an error.
      if (statusCode === 421 || epoch > this.decision!.epoch) {
        this.swallow = true;
        this.status = statusCode;
        if (epoch) this.peerEpoch = epoch;
        return;
      }
    }
    this.status = statusCode;
    if (this.clientGone) return;
    const t = this.target!;
    const d = this.decision!;
    let lines = '';
    let length = -1;
    let hasDate = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      // only names as long as one to look at need the lower-case test (content-type, … do not)
      if (RESPONSE_NAME_LENGTHS[name.length] === 1) {
        const lower = name.toLowerCase();
        if (lower === 'content-length') {
          length = Number(headers[i + 1]);
          continue;
        }
        if (lower === 'date') hasDate = true;
        else if (DROP_RESPONSE.has(lower)) {
          if (lower === H_SOA_PATH) this.peerPath = headers[i + 1];
          continue;
        }
      }
      lines += `${name}: ${headers[i + 1]}\r\n`;
    }
    lines += t.zoneLine + SHARD_LINE[d.shard] + this.gw.epochLine(d.epoch);
    const soa = this.gw.opts.soaZone;
    if (soa !== undefined)
      lines += `${H_SOA_PATH}: ${t.route === 'remote' ? `${soa}>${this.peerPath ?? t.zone}` : soa}\r\n`;
    this.req.writeHead(statusCode, lines, length, hasDate);
  }

  onUpstreamData(chunk: Buffer): boolean {
    if (this.swallow || this.clientGone) return true;
    return this.req.write(chunk);
  }

  onUpstreamComplete(): void {
    this.conn = null;
    this.body?.detach();
    if (this.swallow) {
      this.swallow = false;
      void this.retryAfter421();
      return;
    }
    this.req.end();
    this.finish(this.status);
  }

  onUpstreamError(reason: string, message: string): void {
    this.conn = null;
    this.queued = false;
    this.body?.detach();
    if (this.done) return; // answered already (requestFailed aborts its call after answering)
    const t = this.target!;
    if (this.clientGone) {
      this.finish(499);
      return;
    }
    this.gw.opts.metrics.upstreamErrors.labels(t.zone, this.upstream!.origin, reason).inc();
    if (this.req.headersSent) {
      // the answer already started: cut it so the client sees a broken answer, not a short one
      this.gw.opts.log.warn(
        { err: message, reason, upstream: this.upstream!.origin },
        'upstream failed mid-answer',
      );
      this.req.destroy();
      this.finish(this.status);
      return;
    }
    this.swallow = false;
    const untouched = this.body === undefined || (!this.body.started && !this.retried);
    if (CONNECT_ERRORS.has(reason) && untouched && ++this.connectAttempts < t.group.instances.length) {
      this.dispatch(); // another instance of the same eZone; never another eZone
      return;
    }
    this.refuse(
      503,
      ErrorCode.zoneUnavailable,
      `eZone ${t.zone} unreachable: ${this.upstream!.origin}: ${message || reason}; not sent to another eZone`,
      RETRY_AFTER,
    );
  }

  onUpstreamDrain(): void {
    this.body?.drained();
  }

  /** 101 from the upstream: pass its head on and join the two connections (tunnel.ts). */
  onUpstreamSwitch(headers: string[], socket: Socket, head: Buffer): void {
    this.conn = null;
    this.queued = false;
    this.body?.detach();
    if (this.done || this.clientGone) {
      socket.destroy();
      return;
    }
    if (!this.req.canSwitch) {
      // the client's request was not all read (a body still coming): its bytes cannot become the tunnel's
      socket.destroy();
      this.onUpstreamError(
        UpstreamFailure.badResponse,
        '101 Switching Protocols before the request was complete',
      );
      return;
    }
    const t = this.target!;
    const d = this.decision!;
    let lines = '';
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      if (RESPONSE_NAME_LENGTHS[name.length] === 1) {
        const lower = name.toLowerCase();
        // Connection and Upgrade are what a 101 is about: they stay; framing and X-Ez-* do not
        if (
          lower === 'content-length' ||
          (DROP_RESPONSE.has(lower) && lower !== 'connection' && lower !== 'upgrade')
        ) {
          if (lower === H_SOA_PATH) this.peerPath = headers[i + 1];
          continue;
        }
      }
      lines += `${name}: ${headers[i + 1]}\r\n`;
    }
    lines += t.zoneLine + SHARD_LINE[d.shard] + this.gw.epochLine(d.epoch);
    const soa = this.gw.opts.soaZone;
    if (soa !== undefined)
      lines += `${H_SOA_PATH}: ${t.route === 'remote' ? `${soa}>${this.peerPath ?? t.zone}` : soa}\r\n`;
    const tunnel = this.req.switchProtocols(lines, socket, head);
    this.status = 101;
    const { metrics, accessLog } = this.gw.opts;
    metrics.upgraded(t.zone, t.route);
    void tunnel.closed.then(() => {
      metrics.tunnelClosed();
      if (accessLog.wants(101, true))
        accessLog.write({
          ...this.accessEntry(101, Math.round(performance.now() - tunnel.openedAt), undefined),
          upgrade: this.upgradeTo,
          tunnel: 'closed',
          bytesIn: tunnel.bytesIn,
          bytesOut: tunnel.bytesOut,
        });
    });
    this.finish(101);
  }

  // ---- front handler -------------------------------------------------------------------------

  clientClosed(): void {
    if (this.done) return;
    // closed before the answer was complete: the client went away
    this.clientGone = true;
    if (this.conn !== null)
      this.conn.abort(); // → onUpstreamError → finish(499)
    else if (this.queued) {
      this.queued = false;
      this.upstream!.cancel(this);
      this.finish(499);
    } else if (this.target === undefined) this.finish(499); // held or routing: nothing upstream yet
  }

  clientDrained(): void {
    this.conn?.resume();
  }

  requestFailed(status: number, message: string): void {
    if (this.done) {
      this.req.destroy();
      return;
    }
    this.clientGone = true; // a held, routing or retrying request goes no further
    this.refuse(status, ErrorCode.badRequest, message); // or cuts an answer that had started
    // the upstream has part of a body that can never be completed: cut its connection so it cannot
    // take the request as whole
    if (this.conn !== null) this.conn.abort();
    else if (this.queued) {
      this.queued = false;
      this.upstream!.cancel(this);
    }
  }

  // ---- 421 (and a 503 judged at a newer epoch) -----------------------------------------------

  /**
   * Can the request go out a second time? With no body, yes. With a body, only if it is all in the
   * replay copy: a content-length ≤ the replay limit (the rest is read once the 421 is in), or a
   * chunked body that already ended within the limit. Otherwise the 421 is passed to the client.
   */
  private replayable(): boolean {
    if (!this.hasBody) return true;
    const body = this.body;
    if (body === undefined || !body.keeping) return false;
    if (this.contentLength >= 0) return this.contentLength <= this.gw.opts.replayLimitBytes;
    return body.ended;
  }

  private async retryAfter421(): Promise<void> {
    const { source, metrics, lockWaitMs } = this.gw.opts;
    this.retried = true;
    const before = source.epoch;
    await source.refresh().catch(() => false);
    // the eZone said 421 at its epoch: hold on until this process has that epoch too (bounded)
    if (this.peerEpoch > source.epoch) await source.waitForEpoch(this.peerEpoch, lockWaitMs);
    if (this.clientGone) {
      this.finish(499);
      return;
    }
    if (this.body !== undefined) {
      if (!(await this.body.whenComplete())) {
        this.finish(499); // the client stopped sending its body
        return;
      }
      this.replay = this.body.copy();
    }
    metrics.retries.labels('retried').inc();
    this.gw.opts.log.debug(
      { shard: this.decision?.shard, from: this.target?.zone, epochBefore: before, epoch: source.epoch },
      `${this.status}: retrying once at the epoch the eZone judged with`,
    );
    let d: RouteDecision;
    try {
      d = source.resolver.resolve(this.tag!);
    } catch (err) {
      this.refuse(400, ErrorCode.badRoute, (err as Error).message);
      return;
    }
    this.proceed(d);
  }

  // ---- endings ------------------------------------------------------------------------------

  /** Answer with a JSON error from the gateway itself; `extra`: more header lines. */
  refuse(status: number, code: string, message: string, extra = ''): void {
    if (this.done) return;
    const req = this.req;
    if (req.headersSent) {
      req.destroy();
      this.finish(status, code);
      return;
    }
    const d = this.decision;
    let lines = extra;
    if (d !== undefined) lines += SHARD_LINE[d.shard] + this.gw.epochLine(d.epoch);
    lines += 'content-type: application/json\r\ncache-control: no-store\r\n';
    const body = Buffer.from(errorBody(code, message));
    req.writeHead(status, lines, body.length);
    req.end(body);
    this.finish(status, code);
  }

  private finish(status: number, code?: string): void {
    if (this.done) return;
    this.done = true;
    const { metrics, accessLog } = this.gw.opts;
    metrics.end();
    const ms = performance.now() - this.t0;
    const d = this.decision;
    const t = this.target;
    const stats = t !== undefined && code === undefined ? t.stats : metrics.stats(d?.zone ?? '', 'none');
    stats.count(d === undefined ? -1 : d.shard, status, ms / 1000);
    if (this.body !== undefined) this.body.release();
    // an upgrade is logged whatever the sampling: it opens a connection that may live for hours
    if (accessLog.wants(status, status === 101)) {
      const entry = this.accessEntry(status, Math.round(ms * 1000) / 1000, code);
      if (status === 101) {
        entry.upgrade = this.upgradeTo;
        entry.tunnel = 'open';
      }
      accessLog.write(entry);
    }
  }

  private accessEntry(status: number, ms: number, code: string | undefined): AccessEntry {
    const d = this.decision;
    const t = this.target;
    const entry: AccessEntry = { method: this.req.method, path: this.req.url, status, ms };
    if (d !== undefined) {
      entry.zone = d.zone;
      entry.shard = d.shard;
      entry.epoch = d.epoch;
    }
    if (t !== undefined && code === undefined) {
      entry.route = t.route;
      entry.upstream = this.upstream?.origin;
    }
    if (this.tagSource !== undefined) entry.tag = this.tagSource;
    if (code !== undefined) entry.code = code;
    if (this.retried) entry.retried = true;
    if (this.heldMs > 0) entry.heldMs = this.heldMs;
    return entry;
  }
}
