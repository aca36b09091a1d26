import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { type RouteDecision, RouteError, type RouteTag, routeTagFrom } from '../routing/index.js';
import type { RoutingSource } from '../sdk/types.js';
import type { AccessEntry, AccessLog } from './access-log.js';
import { BodyTee } from './body.js';
import {
  DROP_REQUEST,
  DROP_RESPONSE,
  H_EPOCH,
  H_ROUTE,
  H_SHARD,
  H_SOA_PATH,
  H_VIA,
  H_ZONE,
  SHARD_TEXT,
} from './headers.js';
import type { GatewayMetrics, TargetStats } from './metrics.js';
import { ErrorCode, sendError } from './reply.js';
import type { Upstream, UpstreamGroup } from './upstream.js';

/**
 * The request path shared by APIRouter and the SOA Proxy (DESIGN §3): routing tag → decision
 * (the routing core's Router, through a RoutingSource) → hold while the shard is locked → target
 * (an eZone's services, a peer SOA Proxy) → stream the request and the answer through an undici
 * keep-alive Pool → one retry after a 421. No framework: one Exchange object per request is also
 * the undici dispatch handler, so the hot path allocates no closures.
 */

/** Where a decision is sent. Built once per eZone (and route) by the part, reused for every request. */
export interface Target {
  /** the eZone whose service answers */
  zone: string;
  /** metrics/log label: zone (APIRouter), local / remote / inbound (SOA Proxy) */
  route: string;
  group: UpstreamGroup;
  stats: TargetStats;
  /** extra request headers, flat `[name, value, …]` (e.g. X-Ez-Via) */
  headers: readonly string[];
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

type DispatchHandler = Dispatcher.DispatchHandler;

/** Connection failures: nothing reached the instance, so another instance of the same eZone may be tried. */
const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);

/** DROP_LENGTHS[n] = 1 when some response header to drop is n characters long */
const DROP_LENGTHS = new Uint8Array(64);
for (const name of DROP_RESPONSE) DROP_LENGTHS[name.length] = 1;

const isRefusal = (t: Target | Refusal): t is Refusal => (t as Refusal).code !== undefined;

export class Gateway {
  readonly opts: GatewayOptions;
  private epochShown = -1;
  private epochString = '';
  private closing = false;

  constructor(opts: GatewayOptions) {
    this.opts = opts;
  }

  /** X-Ez-Epoch text, rebuilt only when the epoch changes. */
  epochText(epoch: number): string {
    if (epoch !== this.epochShown) {
      this.epochShown = epoch;
      this.epochString = String(epoch);
    }
    return this.epochString;
  }

  /** Watch a client connection once (not every request): its close aborts the exchange in flight. */
  watch(socket: Socket): void {
    (socket as WatchedSocket)[EXCHANGE] = undefined;
    socket.on('close', onSocketClose);
  }

  /** The request listener (after the part's own /healthz and /metrics). */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const ex = new Exchange(this, req, res);
    (req.socket as WatchedSocket)[EXCHANGE] = ex;
    if (this.closing) {
      ex.refuse(
        503,
        ErrorCode.shuttingDown,
        `${this.opts.part} is shutting down; retry on another instance`,
        ['connection', 'close'],
      );
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

const EXCHANGE = Symbol('exchange');
type WatchedSocket = Socket & { [EXCHANGE]?: Exchange };
type ResponseWithExchange = ServerResponse & { [EXCHANGE]?: Exchange };

/** The client connection closed: if an exchange was still in flight, the client went away (abort upstream). */
function onSocketClose(this: WatchedSocket): void {
  this[EXCHANGE]?.responseClosed();
}

/** `res` 'drain' while an upstream answer is paused for backpressure. */
function onResponseDrain(this: ResponseWithExchange): void {
  this[EXCHANGE]?.resumeUpstream();
}

/** One request through the gateway; also its undici dispatch handler (legacy callback form, what undici calls natively). */
class Exchange implements DispatchHandler {
  private readonly gw: Gateway;
  private readonly req: IncomingMessage;
  private readonly res: ServerResponse;
  private readonly t0: number;
  /** client headers to pass on, flat, without hop-by-hop and X-Ez decision headers */
  private fwd: string[] = [];
  /** how many entries of `fwd` are the client's (-1 until the first dispatch) */
  private fwdLength = -1;
  private routeHeader: string | undefined;
  private cookie: string | undefined;
  private via: string | undefined;
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
  private tee: BodyTee | undefined;
  private connectAttempts = 0;
  private heldMs = 0;

  private abortUpstream: ((err?: Error) => void) | undefined;
  private resume: (() => void) | undefined;
  private status = 0;
  /** swallowing a 421 answer that will be retried */
  private swallow = false;
  private retried = false;
  private peerPath: string | undefined;
  private done = false;
  private clientGone = false;

  constructor(gw: Gateway, req: IncomingMessage, res: ServerResponse) {
    this.gw = gw;
    this.req = req;
    this.res = res;
    this.t0 = performance.now();
    gw.opts.metrics.begin();
  }

  start(): void {
    const raw = this.req.rawHeaders;
    const fwd = this.fwd;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i];
      const lower = name.toLowerCase();
      if (lower === H_ROUTE) {
        if (this.routeHeader !== undefined) {
          this.refuse(400, ErrorCode.badRoute, '2 X-Ez-Route header values (expected one)');
          return;
        }
        this.routeHeader = raw[i + 1];
        fwd.push(name, raw[i + 1]);
        continue;
      }
      if (lower === 'content-length') {
        this.contentLength = Number(raw[i + 1]);
        if (this.contentLength > 0) this.hasBody = true;
      } else if (lower === 'transfer-encoding') {
        this.hasBody = true;
        this.contentLength = -1;
      } else if (lower === 'cookie') {
        this.cookie = this.cookie === undefined ? raw[i + 1] : `${this.cookie}; ${raw[i + 1]}`;
      } else if (lower === H_VIA && this.gw.opts.soaZone !== undefined) {
        this.via = raw[i + 1];
      } else if (lower === H_EPOCH && this.gw.opts.soaZone !== undefined) {
        this.peerEpoch = Number(raw[i + 1]) || 0;
      }
      if (DROP_REQUEST.has(lower)) continue;
      fwd.push(name, raw[i + 1]);
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
    let decision: RouteDecision;
    try {
      const url = this.req.url ?? '/';
      const q = this.routeHeader === undefined ? url.indexOf('?') : -1;
      const found = routeTagFrom(
        this.routeHeader !== undefined
          ? { header: this.routeHeader }
          : { cookie: this.cookie, query: q >= 0 ? url.slice(q + 1) : undefined },
      );
      this.tag = found.tag;
      this.tagSource = found.source;
      this.tagText = found.text;
      decision = this.gw.opts.source.router.resolve(found.tag);
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
        ['retry-after', '1'],
      );
      return;
    }
    if (d.shardState === 'locked') {
      void this.hold(d);
      return;
    }
    const t = this.gw.opts.target(d, this.via);
    if (isRefusal(t)) {
      this.refuse(t.status, t.code, t.message, t.status === 503 ? ['retry-after', '1'] : []);
      return;
    }
    this.target = t;
    this.connectAttempts = 0;
    this.dispatch();
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
        d = source.router.resolve(this.tag!);
      } catch (err) {
        this.heldMs = Math.round(performance.now() - started);
        this.refuse(400, ErrorCode.badRoute, (err as Error).message);
        return;
      }
      if (d.shardState !== 'locked') {
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
    this.refuse(
      503,
      ErrorCode.locked,
      `shard ${d.shard} is locked (switch under way, epoch ${d.epoch}); held ${this.heldMs} ms, retry shortly`,
      ['retry-after', '1'],
    );
  }

  private dispatch(): void {
    const t = this.target!;
    const d = this.decision!;
    this.upstream = t.group.pick();
    // the client's headers, then the decision: appended in place (a retry cuts back to the client's)
    const headers = this.fwd;
    if (this.fwdLength < 0) this.fwdLength = headers.length;
    else headers.length = this.fwdLength;
    if (this.routeHeader === undefined && this.tagText !== undefined) headers.push(H_ROUTE, this.tagText);
    headers.push(H_ZONE, d.zone, H_SHARD, SHARD_TEXT[d.shard], H_EPOCH, this.gw.epochText(d.epoch));
    for (let i = 0; i < t.headers.length; i++) headers.push(t.headers[i]);

    let body: BodyTee | Buffer | null = null;
    if (this.hasBody) {
      if (this.tee === undefined) {
        this.tee = new BodyTee(this.req, this.gw.opts.replayLimitBytes);
        body = this.tee;
      } else {
        body = this.tee.copy(); // a retry: the first attempt's body, kept whole (see retryAfter421)
      }
    }
    this.upstream.pool.dispatch(
      { path: this.req.url ?? '/', method: this.req.method ?? 'GET', headers, body },
      this,
    );
  }

  // ---- undici handler ----------------------------------------------------------------------

  onConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.clientGone) abort(new Error('client closed the request'));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // informational answers are node:http's business
    this.resume = resume;
    if (statusCode === 421 && !this.retried && this.replayable()) {
      this.swallow = true;
      this.status = 421;
      for (let i = 0; i < rawHeaders.length; i += 2) {
        if (rawHeaders[i].length === 10 && rawHeaders[i].toString('latin1').toLowerCase() === H_EPOCH)
          this.peerEpoch = Number(rawHeaders[i + 1].toString('latin1')) || 0;
      }
      return true;
    }
    this.status = statusCode;
    if (this.clientGone) return true;
    const t = this.target!;
    const d = this.decision!;
    const out: string[] = [];
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const raw = rawHeaders[i];
      const name = raw.toString('latin1');
      // only names as long as one to drop need the lower-case test (content-type, date, … do not)
      if (DROP_LENGTHS[raw.length] === 1) {
        const lower = name.toLowerCase();
        if (DROP_RESPONSE.has(lower)) {
          if (lower === H_SOA_PATH) this.peerPath = rawHeaders[i + 1].toString('latin1');
          continue;
        }
      }
      out.push(name, rawHeaders[i + 1].toString('latin1'));
    }
    out.push(H_ZONE, t.zone, H_SHARD, SHARD_TEXT[d.shard], H_EPOCH, this.gw.epochText(d.epoch));
    const soa = this.gw.opts.soaZone;
    if (soa !== undefined)
      out.push(H_SOA_PATH, t.route === 'remote' ? `${soa}>${this.peerPath ?? t.zone}` : soa);
    this.res.writeHead(statusCode, out);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.swallow || this.clientGone) return true;
    if (this.res.write(chunk)) return true;
    (this.res as ResponseWithExchange)[EXCHANGE] = this;
    this.res.once('drain', onResponseDrain);
    return false;
  }

  onComplete(): void {
    if (this.swallow) {
      this.swallow = false;
      void this.retryAfter421();
      return;
    }
    this.res.end();
    this.finish(this.status);
  }

  onError(err: Error): void {
    const t = this.target!;
    if (this.clientGone) {
      this.finish(499);
      return;
    }
    const code = (err as NodeJS.ErrnoException).code ?? err.name;
    this.gw.opts.metrics.upstreamErrors.labels(t.zone, this.upstream!.origin, code).inc();
    if (this.res.headersSent) {
      // the answer already started: cut it so the client sees a broken answer, not a short one
      this.gw.opts.log.warn(
        { err: err.message, upstream: this.upstream!.origin },
        'upstream failed mid-answer',
      );
      this.res.destroy(err);
      this.finish(this.status);
      return;
    }
    this.swallow = false;
    const untouched = this.tee === undefined || (this.tee.started === false && !this.retried);
    if (CONNECT_ERRORS.has(code) && untouched && ++this.connectAttempts < t.group.instances.length) {
      this.dispatch(); // another instance of the same eZone; never another eZone
      return;
    }
    this.refuse(
      503,
      ErrorCode.zoneUnavailable,
      `eZone ${t.zone} unreachable: ${this.upstream!.origin}: ${err.message || code}; not sent to another eZone`,
      ['retry-after', '1'],
    );
  }

  // ---- 421 ----------------------------------------------------------------------------------

  /**
   * Can the request go out a second time? With no body, yes. With a body, only if it is all in the
   * replay copy: a content-length ≤ the replay limit (the rest is read once the 421 is in), or a
   * chunked body that already ended within the limit. Otherwise the 421 is passed to the client.
   */
  private replayable(): boolean {
    if (!this.hasBody) return true;
    const tee = this.tee;
    if (tee === undefined || !tee.keeping) return false;
    if (this.contentLength >= 0) return this.contentLength <= this.gw.opts.replayLimitBytes;
    return tee.ended;
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
    if (this.tee !== undefined && !(await this.tee.whenComplete())) {
      this.finish(499); // the client stopped sending its body
      return;
    }
    metrics.retries.labels('retried').inc();
    this.gw.opts.log.debug(
      { shard: this.decision?.shard, from: this.target?.zone, epochBefore: before, epoch: source.epoch },
      '421: retrying once at the owner',
    );
    let d: RouteDecision;
    try {
      d = source.router.resolve(this.tag!);
    } catch (err) {
      this.refuse(400, ErrorCode.badRoute, (err as Error).message);
      return;
    }
    this.proceed(d);
  }

  // ---- endings ------------------------------------------------------------------------------

  /** Answer with a JSON error from the gateway itself. */
  refuse(status: number, code: string, message: string, extra: string[] = []): void {
    if (this.done) return;
    const d = this.decision;
    const headers = extra;
    if (d !== undefined) headers.push(H_SHARD, SHARD_TEXT[d.shard], H_EPOCH, this.gw.epochText(d.epoch));
    sendError(this.res, status, code, message, headers);
    this.finish(status, code);
  }

  responseClosed(): void {
    if (this.done) return;
    // closed before the answer was complete: the client went away
    this.clientGone = true;
    if (this.abortUpstream !== undefined) this.abortUpstream(new Error('client closed the request'));
    else if (this.target === undefined) this.finish(499); // held or routing: nothing upstream yet
  }

  resumeUpstream(): void {
    this.resume?.();
  }

  private finish(status: number, code?: string): void {
    if (this.done) return;
    this.done = true;
    const socket = this.req.socket as WatchedSocket;
    if (socket[EXCHANGE] === this) socket[EXCHANGE] = undefined;
    const { metrics, accessLog } = this.gw.opts;
    metrics.end();
    const ms = performance.now() - this.t0;
    const d = this.decision;
    const t = this.target;
    const stats = t !== undefined && code === undefined ? t.stats : metrics.stats(d?.zone ?? '', 'none');
    stats.count(d === undefined ? -1 : d.shard, status, ms / 1000);
    if (this.tee !== undefined) this.tee.release();
    if (accessLog.wants(status)) {
      const entry: AccessEntry = {
        method: this.req.method ?? '',
        path: this.req.url ?? '',
        status,
        ms: Math.round(ms * 1000) / 1000,
      };
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
      accessLog.write(entry);
    }
  }
}
