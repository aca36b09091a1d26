import { connect, type Socket } from 'node:net';
import { UsageError } from '../util/errors.js';
import { clock, onTick } from './clock.js';
import {
  HTTPParser,
  type HttpParser,
  kOnBody,
  kOnHeaders,
  kOnHeadersComplete,
  kOnMessageComplete,
} from './llhttp.js';
import { beginTurn, endTurn, Outbox } from './outbox.js';

export interface PoolOptions {
  /** max keep-alive connections per upstream instance */
  connections: number;
  /** TCP connect timeout: past it the instance counts as unreachable */
  connectTimeoutMs: number;
  /** time from the end of the request to the response head: past it the call fails */
  headersTimeoutMs: number;
  /** max idle time between response body chunks */
  bodyTimeoutMs: number;
}

export const DEFAULT_POOL: PoolOptions = {
  connections: 256,
  connectTimeoutMs: 1000,
  headersTimeoutMs: 30_000,
  bodyTimeoutMs: 30_000,
};

/** Every upstream socket reads into this one buffer: reads are handled one at a time, synchronously. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/**
 * An idle keep-alive connection is closed after this long when the service does not say how long it
 * keeps one (node:http's default is 5 s: close first). A service that sends `Keep-Alive: timeout=N`
 * has its connections kept N − 1 s, up to MAX_IDLE_MS (nginx's `keepalive_timeout` is 60 s): closing
 * warm connections early made bursts open new ones, and the connect showed in the p99.
 */
const IDLE_MS = 4000;
const MAX_IDLE_MS = 60_000;

/** Failure reasons (metrics label `reason`, error messages) besides socket error codes (ECONNREFUSED, …). */
export const UpstreamFailure = {
  connectTimeout: 'CONNECT_TIMEOUT',
  headersTimeout: 'HEADERS_TIMEOUT',
  bodyTimeout: 'BODY_TIMEOUT',
  closed: 'UPSTREAM_CLOSED',
  badResponse: 'BAD_RESPONSE',
  aborted: 'ABORTED',
} as const;

/** The gateway's side of one call to an upstream. */
export interface UpstreamHandler {
  /** a connection is ready: send the request through it (UpstreamConn.send…) */
  onUpstreamConn(conn: UpstreamConn): void;
  /** the answer's status and headers (flat `[name, value, …]`); 1xx answers are skipped */
  onUpstreamHeaders(status: number, headers: string[]): void;
  /** false: pause the answer until conn.resume() */
  onUpstreamData(chunk: Buffer): boolean;
  onUpstreamComplete(): void;
  /** the call failed: `reason` is an UpstreamFailure or a socket error code */
  onUpstreamError(reason: string, message: string): void;
  /** the connection took the request bytes queued so far, after writeBody() returned false */
  onUpstreamDrain(): void;
  /**
   * `101 Switching Protocols` to a request sent on a fresh connection (Upstream.acquireFresh): the
   * socket is the handler's now, `head` the bytes that came after the 101 head in the same read.
   */
  onUpstreamSwitch(headers: string[], socket: Socket, head: Buffer): void;
}

type ParserWithConn = HttpParser & { conn: UpstreamConn };

/**
 * One keep-alive connection to an upstream instance, one request at a time (no pipelining: one slow
 * answer must not hold others). Hand-written instead of undici's Pool (llhttp.ts says why): the
 * request goes out as one write (head and the body's first bytes), the answer is parsed by llhttp.
 * A `fresh` connection carries one Upgrade request and is never pooled: its 101 hands the socket
 * over (onUpstreamSwitch); it reads through 'data' events, not the shared buffer, so that the bytes
 * after the 101 and the socket itself can leave with the tunnel.
 */
export class UpstreamConn {
  readonly socket: Socket;
  readonly out: Outbox;
  private readonly parser: HttpParser;
  handler: UpstreamHandler | null;
  private connected = false;
  private isHead = false;
  /** the whole request is written */
  private requestDone = false;
  private gotHead = false;
  private informational = false;
  private reusable = true;
  private paused = false;
  private slowHeaders: string[] = [];
  /** clock.now of: connect start, end of request, last answer bytes, becoming idle */
  private since: number;
  /** idle this long → closed (IDLE_MS, or a second less than the service keeps it, ≤ MAX_IDLE_MS) */
  private idleMs = IDLE_MS;
  private closed = false;
  /** a 101 was parsed (fresh connections only): the socket goes to the handler after this read */
  private switching = false;
  private switchHeaders: string[] = [];

  constructor(
    readonly upstream: Upstream,
    handler: UpstreamHandler,
    readonly fresh = false,
  ) {
    this.handler = handler;
    this.since = clock.now;
    const parser = new HTTPParser();
    parser.initialize(HTTPParser.RESPONSE, {}, 0, HTTPParser.kLenientNone);
    (parser as ParserWithConn).conn = this;
    parser[kOnHeaders] = onHeaders;
    parser[kOnHeadersComplete] = onHeadersComplete;
    parser[kOnBody] = onBody;
    parser[kOnMessageComplete] = onMessageComplete;
    this.parser = parser;
    // `onread`: answers are read into one shared buffer and parsed in place (llhttp copies what it
    // hands on), without a Buffer and a stream 'data' event per read
    const socket = fresh
      ? // half-open allowed: after a 101 each direction ends on its own (tunnel.ts)
        connect({ host: upstream.host, port: upstream.port, noDelay: true, allowHalfOpen: true })
      : connect({
          host: upstream.host,
          port: upstream.port,
          noDelay: true,
          onread: { buffer: READ_BUFFER, callback: (n: number) => this.onRead(n) },
        });
    this.socket = socket;
    this.out = new Outbox(socket);
    socket.on('connect', () => {
      this.connected = true;
      this.since = clock.now;
      beginTurn();
      try {
        const h = this.handler;
        if (h !== null) h.onUpstreamConn(this);
        else if (this.fresh) this.destroy();
        else this.upstream.release(this);
      } finally {
        endTurn();
      }
    });
    if (fresh) socket.on('data', this.onSocketData);
    socket.on('end', this.onSocketEnd);
    socket.on('error', this.onSocketError);
    socket.on('close', this.onSocketClose);
    socket.on('drain', this.onSocketDrain);
  }

  // socket listeners, kept so that a fresh connection can take them off when it switches
  private readonly onSocketData = (d: Buffer): void => this.onData(d);
  private readonly onSocketEnd = (): void => this.onEnd();
  private readonly onSocketError = (err: NodeJS.ErrnoException): void =>
    this.fail(err.code ?? UpstreamFailure.closed, err.message || String(err));
  private readonly onSocketClose = (): void => this.onClose();
  private readonly onSocketDrain = (): void => {
    beginTurn();
    try {
      this.handler?.onUpstreamDrain();
    } finally {
      endTurn();
    }
  };

  /** (re)used for a new call */
  assign(handler: UpstreamHandler): void {
    this.handler = handler;
    this.requestDone = false;
    this.gotHead = false;
    this.informational = false;
    handler.onUpstreamConn(this);
  }

  /** Send a request head (`METHOD path HTTP/1.1\r\n…\r\n\r\n`); `done`: it has no body to follow. */
  sendHead(head: string, isHead: boolean, done: boolean): void {
    this.isHead = isHead;
    this.out.text(head);
    if (done) this.requestSent();
  }

  /** A piece of the request body (re-framed as a chunk when `chunked`); false: wait for onUpstreamDrain. */
  writeBody(chunk: Buffer, chunked: boolean): boolean {
    if (chunked) {
      this.out.text(`${chunk.length.toString(16)}\r\n`);
      this.out.bytes(chunk);
      this.out.text('\r\n');
    } else this.out.bytes(chunk);
    return this.out.writable;
  }

  endBody(chunked: boolean): void {
    if (chunked) this.out.text('0\r\n\r\n');
    this.requestSent();
  }

  private requestSent(): void {
    this.requestDone = true;
    if (!this.gotHead) this.since = clock.now;
  }

  /** Continue reading an answer paused by onUpstreamData() returning false. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.since = clock.now;
    this.socket.resume();
  }

  /** The call is no longer wanted (before the connection was up): close it without telling anyone. */
  cancel(): void {
    this.handler = null;
    this.destroy();
  }

  /** The caller gives up on the call (its client went away): the connection is closed. */
  abort(): void {
    const h = this.handler;
    this.handler = null;
    this.destroy();
    h?.onUpstreamError(UpstreamFailure.aborted, 'the client closed the request');
  }

  private onRead(n: number): boolean {
    if (this.closed) return false;
    this.since = clock.now;
    beginTurn();
    try {
      const ret = this.parser.execute(READ_BUFFER.subarray(0, n));
      if (typeof ret !== 'number') this.fail(UpstreamFailure.badResponse, `malformed answer: ${ret.message}`);
      else if (ret < n && this.handler !== null)
        this.fail(UpstreamFailure.badResponse, 'the upstream switched protocols');
    } finally {
      endTurn();
    }
    return !this.paused;
  }

  /** A read of a fresh connection (its own Buffer: what follows a 101 can be handed on as it is). */
  private onData(d: Buffer): void {
    if (this.closed) return;
    this.since = clock.now;
    beginTurn();
    try {
      const ret = this.parser.execute(d);
      if (typeof ret !== 'number') this.fail(UpstreamFailure.badResponse, `malformed answer: ${ret.message}`);
      else if (this.switching) this.switched(d.subarray(ret));
      else if (ret < d.length && this.handler !== null)
        this.fail(UpstreamFailure.badResponse, 'the upstream switched protocols');
    } finally {
      endTurn();
    }
  }

  /** After a 101: the socket leaves this connection (no listener, timeout or pool of ours is left on it). */
  private switched(rest: Buffer): void {
    const h = this.handler;
    const socket = this.socket;
    this.handler = null;
    this.closed = true;
    socket.off('data', this.onSocketData);
    socket.off('end', this.onSocketEnd);
    socket.off('error', this.onSocketError);
    socket.off('close', this.onSocketClose);
    socket.off('drain', this.onSocketDrain);
    socket.pause(); // until the tunnel reads it
    this.upstream.removed(this);
    setImmediate(closeParser, this.parser);
    if (h !== null) h.onUpstreamSwitch(this.switchHeaders, socket, rest);
    else socket.destroy();
  }

  private onEnd(): void {
    // the end of a close-delimited answer completes it; anything else was cut short
    const ret = this.parser.finish();
    if (ret instanceof Error) this.fail(UpstreamFailure.closed, `the answer was cut short: ${ret.message}`);
    else this.fail(UpstreamFailure.closed, 'the upstream closed the connection before answering');
  }

  private fail(reason: string, message: string): void {
    const h = this.handler;
    this.handler = null;
    this.destroy();
    h?.onUpstreamError(reason, message);
  }

  private onClose(): void {
    this.fail(UpstreamFailure.closed, 'the upstream closed the connection');
    setImmediate(closeParser, this.parser);
  }

  private destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.upstream.removed(this);
  }

  /** @internal parser callbacks */
  slowHead(headers: string[]): void {
    for (let i = 0; i < headers.length; i++) this.slowHeaders.push(headers[i]);
  }

  headersComplete(headers: string[] | undefined, status: number, keepAlive: boolean): number {
    if (headers === undefined) {
      headers = this.slowHeaders;
      this.slowHeaders = [];
    }
    if (status < 200) {
      if (status === 101 && this.fresh && this.handler !== null) {
        // llhttp stops after this head: what follows is the other protocol (onData hands it on)
        this.switching = true;
        this.switchHeaders = headers;
        return 1;
      }
      this.informational = true; // 100 Continue, 103 Early Hints: not passed on
      return 1;
    }
    this.gotHead = true;
    if (!keepAlive) this.reusable = false;
    else {
      // `Keep-Alive: timeout=N`: close an idle connection a second before the service does
      for (let i = 0; i < headers.length; i += 2) {
        if (headers[i].length === 10 && headers[i].toLowerCase() === 'keep-alive') {
          const m = /timeout=(\d+)/i.exec(headers[i + 1]);
          if (m) this.idleMs = Math.min(MAX_IDLE_MS, Math.max(0, Number(m[1]) * 1000 - 1000));
        }
      }
    }
    this.handler?.onUpstreamHeaders(status, headers);
    return this.isHead || status === 204 || status === 304 ? 1 : 0;
  }

  body(chunk: Buffer): void {
    const h = this.handler;
    if (h !== null && !h.onUpstreamData(chunk) && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  messageComplete(): void {
    if (this.switching) return;
    if (this.informational) {
      this.informational = false;
      return;
    }
    const h = this.handler;
    this.handler = null;
    // reusable only when the request was all sent (an early answer leaves the body half-sent);
    // an answer nobody asked for means the connection is out of step
    if (h !== null && this.reusable && this.requestDone && !this.fresh) {
      this.since = clock.now;
      if (this.paused) {
        this.paused = false;
        this.socket.resume();
      }
      this.upstream.release(this);
    } else this.destroy();
    h?.onUpstreamComplete();
  }

  /** @internal Upstream's sweep */
  sweep(now: number): void {
    const o = this.upstream.opts;
    if (!this.connected) {
      if (now - this.since > o.connectTimeoutMs)
        this.fail(UpstreamFailure.connectTimeout, `no connection within ${o.connectTimeoutMs} ms`);
    } else if (this.handler === null) {
      if (now - this.since > this.idleMs) this.destroy();
    } else if (!this.requestDone || this.paused) {
      // the client is still sending its body, or not reading the answer: not the upstream's fault
    } else if (!this.gotHead) {
      if (now - this.since > o.headersTimeoutMs)
        this.fail(UpstreamFailure.headersTimeout, `no answer within ${o.headersTimeoutMs} ms`);
    } else if (now - this.since > o.bodyTimeoutMs) {
      this.fail(UpstreamFailure.bodyTimeout, `no answer bytes for ${o.bodyTimeoutMs} ms`);
    }
  }
}

function onHeaders(this: ParserWithConn, headers: string[]): void {
  this.conn.slowHead(headers);
}

function onHeadersComplete(
  this: ParserWithConn,
  _major: number,
  _minor: number,
  headers: string[] | undefined,
  _method: number,
  _url: string | undefined,
  status: number,
  _statusMessage: string,
  _upgrade: boolean,
  keepAlive: boolean,
): number {
  return this.conn.headersComplete(headers, status, keepAlive);
}

function onBody(this: ParserWithConn, chunk: Buffer): void {
  this.conn.body(chunk);
}

function onMessageComplete(this: ParserWithConn): void {
  this.conn.messageComplete();
}

function closeParser(parser: HttpParser): void {
  parser.close();
}

/** One upstream instance (`http://127.0.0.1:27204`) and its keep-alive connections. */
export class Upstream {
  readonly origin: string;
  readonly host: string;
  readonly port: number;
  /** `host:port`, the Host header of a request whose client sent none */
  readonly hostHeader: string;
  readonly opts: PoolOptions;
  private readonly idle: UpstreamConn[] = [];
  private readonly all = new Set<UpstreamConn>();
  /** fresh connections for Upgrade requests, outside the pool and its limit, until they switch or end */
  private readonly unpooled = new Set<UpstreamConn>();
  private waiting: UpstreamHandler[] = [];
  private closed = false;
  private readonly stopSweep: () => void;

  constructor(origin: string, opts: PoolOptions) {
    this.origin = origin;
    const url = new URL(origin);
    this.host = url.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(url.port || 80);
    this.hostHeader = url.host;
    this.opts = opts;
    this.stopSweep = onTick(() => {
      const now = clock.now;
      for (const c of this.all) c.sweep(now);
      for (const c of this.unpooled) c.sweep(now);
    });
  }

  /** A connection for `h` now (idle, or a new one) or once one is free. */
  acquire(h: UpstreamHandler): void {
    if (this.closed) {
      h.onUpstreamError(UpstreamFailure.closed, 'the gateway is shutting down');
      return;
    }
    const c = this.idle.pop();
    if (c !== undefined) c.assign(h);
    else if (this.all.size < this.opts.connections) this.all.add(new UpstreamConn(this, h));
    else this.waiting.push(h);
  }

  /**
   * A connection of its own for `h`, never pooled and not counted against the pool's limit: an
   * Upgrade request, which may turn it into a tunnel (a long-lived WebSocket must not hold a slot).
   */
  acquireFresh(h: UpstreamHandler): void {
    if (this.closed) {
      h.onUpstreamError(UpstreamFailure.closed, 'the gateway is shutting down');
      return;
    }
    this.unpooled.add(new UpstreamConn(this, h, true));
  }

  /** `h` no longer wants a connection (its client went away while it waited). */
  cancel(h: UpstreamHandler): void {
    const i = this.waiting.indexOf(h);
    if (i >= 0) this.waiting.splice(i, 1);
    for (const c of this.unpooled) if (c.handler === h) c.cancel(); // still connecting
  }

  /** @internal a connection finished a call and can take another */
  release(c: UpstreamConn): void {
    if (this.closed) {
      c.socket.destroy();
      return;
    }
    const h = this.waiting.shift();
    if (h !== undefined) c.assign(h);
    else this.idle.push(c);
  }

  /** @internal a connection closed (or switched protocols) */
  removed(c: UpstreamConn): void {
    if (c.fresh) {
      this.unpooled.delete(c);
      return;
    }
    this.all.delete(c);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    if (!this.closed && this.waiting.length > 0 && this.all.size < this.opts.connections)
      this.all.add(new UpstreamConn(this, this.waiting.shift()!));
  }

  /** Close idle connections now and busy ones as their calls end. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopSweep();
    for (const c of [...this.idle]) c.socket.destroy();
    const waiting = this.waiting;
    this.waiting = [];
    for (const h of waiting) h.onUpstreamError(UpstreamFailure.closed, 'the gateway is shutting down');
  }
}

/** The instances of one target (an eZone's services, or a peer SOA Proxy), picked round robin. */
export class UpstreamGroup {
  readonly name: string;
  readonly instances: readonly Upstream[];
  private next = 0;

  constructor(name: string, instances: Upstream[]) {
    if (instances.length === 0) throw new UsageError(`${name}: no upstream instances`);
    this.name = name;
    this.instances = instances;
  }

  pick(): Upstream {
    const u = this.instances[this.next];
    this.next = this.next + 1 === this.instances.length ? 0 : this.next + 1;
    return u;
  }
}

/** `http://host:port` with no path: what an Upstream takes; a UsageError naming `what` otherwise. */
export function parseOrigin(text: string, what: string): string {
  let url: URL;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(text) ? text : `http://${text}`);
  } catch {
    throw new UsageError(`${what}: "${text}" is not a URL (expected http://HOST:PORT or HOST:PORT)`);
  }
  if (url.protocol !== 'http:' || !url.port || (url.pathname !== '/' && url.pathname !== ''))
    throw new UsageError(`${what}: "${text}" must be http://HOST:PORT with no path`);
  return url.origin;
}
