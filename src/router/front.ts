import { STATUS_CODES } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { clock, onTick } from './clock.js';
import { clientAddress, forwardLines } from './headers.js';
import {
  HTTPParser,
  type HttpParser,
  kOnBody,
  kOnExecute,
  kOnHeaders,
  kOnHeadersComplete,
  kOnMessageComplete,
  METHODS,
  type ParseError,
} from './llhttp.js';
import { beginTurn, endTurn, Outbox } from './outbox.js';
import { ErrorCode, errorBody, unsupportedCoding } from './reply.js';
import { Tunnel } from './tunnel.js';

/**
 * The gateway's HTTP/1.1 server side: plain `net` sockets parsed by llhttp (llhttp.ts says why not
 * node:http). It keeps node:http's behaviour where a client can see it:
 * - keep-alive (HTTP/1.1 default, HTTP/1.0 with `Connection: keep-alive`), `Connection: close`;
 * - pipelined requests are answered one at a time, in order (later ones wait, reading stops);
 * - request bodies (Content-Length or chunked) are handed over as they arrive, with backpressure;
 *   a body nobody read is discarded after the answer, so the connection stays usable;
 * - `Expect: 100-continue` gets `100 Continue` when the body is first read (the gateway checks the
 *   value; node:http sends it at once);
 * - answers: Content-Length when known, else chunked (HTTP/1.1) or close-delimited (HTTP/1.0);
 *   no body for HEAD, 204, 304; a `Date` header unless the answer has one;
 * - input llhttp cannot parse (a malformed head, bad chunk framing, …) → 400, heads over
 *   maxHeaderSize (16 KB) → 431, oversized chunk extensions → 413, a Transfer-Encoding that does not
 *   end in chunked → 501 (RFC 9112 §6.1); a head not complete within headersTimeoutMs → 408; each
 *   a JSON error (EZ_BAD_REQUEST, naming llhttp's reason and code) with `Connection: close`. The
 *   answers of complete requests before the bad bytes go out first, in order: a client that
 *   pipelined a valid request never loses its answer to junk that followed it;
 * - a request with `Connection: upgrade` + `Upgrade` (llhttp's upgrade flag) stops the parser at its
 *   end: what the client sent after it waits until its answer says what it is. A 101 turns the
 *   connection into a Tunnel (switchProtocols); any other answer and the connection goes on as HTTP;
 * - idle keep-alive connections close after keepAliveTimeoutMs (5 s);
 * - a client that half-closes its side is gone (the answer in flight is cut, as nginx and node:http do).
 */
export interface FrontOptions {
  maxHeaderSize: number;
  keepAliveTimeoutMs: number;
  headersTimeoutMs: number;
  /** a request body still arriving after this long: the connection is closed */
  requestTimeoutMs: number;
}

export const DEFAULT_FRONT: FrontOptions = {
  maxHeaderSize: 16 * 1024,
  keepAliveTimeoutMs: 5000,
  headersTimeoutMs: 60_000,
  requestTimeoutMs: 300_000,
};

/** The gateway's side of a request in progress. */
export interface FrontHandler {
  /** the connection closed before the answer was complete */
  clientClosed(): void;
  /** the socket took what was queued, after write() returned false */
  clientDrained(): void;
  /**
   * The request's own bytes turned out malformed (its chunked body): stop, never let the upstream
   * see it complete, and answer `status` (or cut an answer under way). Without it the front answers.
   */
  requestFailed?(status: number, message: string): void;
}

/** Who reads a request body: chunks as they arrive, with backpressure. */
export interface BodyReader {
  /** false: stop until resumeBody() */
  onBodyData(chunk: Buffer): boolean;
  onBodyEnd(): void;
  /** the connection closed before the body was complete */
  onBodyError(err: Error): void;
}

const STATUS_LINES: string[] = [];
function statusLine(status: number): string {
  let line = STATUS_LINES[status];
  if (line === undefined) {
    line = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
    if (status >= 100 && status < 600) STATUS_LINES[status] = line;
  }
  return line;
}

/** A complete JSON error answer (DESIGN §3 shape) after which the connection closes. */
function errorAnswer(status: number, message: string): { head: string; body: Buffer } {
  const body = Buffer.from(errorBody(ErrorCode.badRequest, message));
  const head = `${statusLine(status)}content-type: application/json\r\ncache-control: no-store\r\ndate: ${clock.date}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`;
  return { head, body };
}

/** The answer to a parse error: llhttp's code picks the status, its reason is the message. */
function parseFailure(
  err: ParseError,
  inMessage: FrontRequest | null,
  before: number,
  maxHeaderSize: number,
): { status: number; message: string } {
  const where =
    before === 0
      ? 'malformed request'
      : `malformed request after ${before} complete request${before === 1 ? '' : 's'} on this connection`;
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, message: `${where}: head larger than ${maxHeaderSize} bytes (${err.code})` };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, message: `${where}: chunk extensions too long (${err.code})` };
    case 'HPE_INVALID_TRANSFER_ENCODING':
      // raised after the head only when the last coding is not chunked: one we do not implement
      if (inMessage !== null)
        return {
          status: 501,
          message: unsupportedCoding(headerValues(inMessage.rawHeaders, 'transfer-encoding')),
        };
  }
  return { status: 400, message: `${where}: ${err.reason ?? err.message} (${err.code})` };
}

/** The values of header `name` (lower-case) in a flat raw header list, joined as one field. */
function headerValues(raw: string[], name: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === name.length && raw[i].toLowerCase() === name)
      out = out === '' ? raw[i + 1] : `${out}, ${raw[i + 1]}`;
  }
  return out;
}

/** One request on a client connection, and its answer. */
export class FrontRequest {
  readonly method: string;
  readonly url: string;
  /** flat `[name, value, …]` as the client sent them */
  readonly rawHeaders: string[];
  readonly httpMajor: number;
  readonly httpMinor: number;
  /** `Connection: upgrade` with an `Upgrade` header: a 101 may switch the connection to another protocol */
  readonly upgrade: boolean;
  /** the connection stays open after this answer */
  keepAlive: boolean;
  /** set by the gateway when the client sent `Expect: 100-continue` */
  expectContinue = false;
  handler: FrontHandler | null = null;
  /** clock.now when the head was complete */
  readonly startedAt: number;

  // ---- request body
  /** the parser has seen the whole request message */
  bodyComplete = false;
  private held: Buffer[] | null = null;
  private reader: BodyReader | null = null;
  private bodyPaused = false;
  private endDelivered = false;
  discarding = false;
  private continueSent = false;

  // ---- answer
  headersSent = false;
  finished = false;
  /** write() returned false: clientDrained() is due */
  wantsDrain = false;
  private noBody = false;
  private chunked = false;

  constructor(
    readonly conn: ClientConnection,
    method: string,
    url: string,
    rawHeaders: string[],
    major: number,
    minor: number,
    keepAlive: boolean,
    upgrade: boolean,
  ) {
    this.method = method;
    this.url = url;
    this.rawHeaders = rawHeaders;
    this.httpMajor = major;
    this.httpMinor = minor;
    this.keepAlive = keepAlive;
    this.upgrade = upgrade;
    this.startedAt = clock.now;
  }

  // ---- request body ---------------------------------------------------------------------

  /** Start reading the body into `reader` (chunks that came with the head first). */
  readBody(reader: BodyReader): void {
    this.reader = reader;
    if (this.expectContinue && !this.continueSent && !this.headersSent && !this.bodyComplete) {
      this.continueSent = true;
      this.conn.out.text('HTTP/1.1 100 Continue\r\n\r\n');
    }
    this.resumeBody();
  }

  pauseBody(): void {
    this.bodyPaused = true;
    this.conn.updateReading();
  }

  resumeBody(): void {
    this.bodyPaused = false;
    const reader = this.reader;
    if (reader === null || this.discarding) return;
    while (this.held !== null && !this.bodyPaused) {
      const chunk = this.held.shift()!;
      if (this.held.length === 0) this.held = null;
      if (!reader.onBodyData(chunk)) this.bodyPaused = true;
    }
    if (this.held === null && !this.bodyPaused && this.bodyComplete && !this.endDelivered) {
      this.endDelivered = true;
      reader.onBodyEnd();
    }
    this.conn.updateReading();
  }

  /** Nobody wants the rest of the body: drop it as it arrives (the connection stays in sync). */
  discardBody(): void {
    this.discarding = true;
    this.held = null;
    this.conn.updateReading();
  }

  /** whether the parser may read more of this request's body now */
  get bodyFlowing(): boolean {
    return this.discarding || (this.reader !== null && !this.bodyPaused && this.held === null);
  }

  /** @internal parser: a piece of the body */
  bodyChunk(chunk: Buffer): void {
    if (this.discarding) return;
    if (this.reader !== null && !this.bodyPaused && this.held === null) {
      if (!this.reader.onBodyData(chunk)) {
        this.bodyPaused = true;
        this.conn.updateReading();
      }
      return;
    }
    if (this.held === null) this.held = [chunk];
    else this.held.push(chunk);
    this.conn.updateReading();
  }

  /** @internal parser: the request message is complete */
  messageComplete(): void {
    this.bodyComplete = true;
    if (this.discarding || this.endDelivered) return;
    if (this.reader !== null && !this.bodyPaused && this.held === null) {
      this.endDelivered = true;
      this.reader.onBodyEnd();
    }
  }

  /** @internal the parser failed inside this request's message (its body): the request cannot complete */
  failed(status: number, message: string): void {
    this.keepAlive = false;
    this.held = null;
    if (!this.endDelivered && this.reader !== null) {
      this.endDelivered = true;
      this.reader.onBodyError(new Error(message));
    }
    const h = this.handler;
    if (h?.requestFailed !== undefined) h.requestFailed(status, message);
    else if (!this.headersSent) {
      const { head, body } = errorAnswer(status, message);
      this.headersSent = true;
      this.conn.out.text(head);
      this.conn.out.bytes(body);
      this.finished = true;
      this.conn.answered(this);
    } else this.destroy();
  }

  /** @internal the connection closed */
  closed(): void {
    if (!this.bodyComplete && this.reader !== null && !this.endDelivered) {
      this.endDelivered = true;
      this.reader.onBodyError(new Error('client closed the connection before the end of its request body'));
    }
    if (!this.finished) this.handler?.clientClosed();
  }

  // ---- answer -------------------------------------------------------------------------------

  /**
   * Send the status line and headers: `lines` are `name: value\r\n` lines without framing
   * headers; `length` the body length (-1: unknown, then chunked or close-delimited).
   */
  writeHead(status: number, lines: string, length: number, hasDate = false): void {
    if (this.headersSent) return;
    this.headersSent = true;
    let head = statusLine(status) + lines;
    if (!hasDate) head += `date: ${clock.date}\r\n`;
    this.noBody = this.method === 'HEAD' || status === 204 || status === 304 || status < 200;
    if (length >= 0 && status !== 204 && status >= 200) head += `content-length: ${length}\r\n`;
    else if (!this.noBody) {
      if (this.httpMajor === 1 && this.httpMinor >= 1) {
        this.chunked = true;
        head += 'transfer-encoding: chunked\r\n';
      } else this.keepAlive = false; // HTTP/1.0: the end of the body is the end of the connection
    }
    if (this.conn.lastOne) this.keepAlive = false;
    if (!this.keepAlive) head += 'connection: close\r\n\r\n';
    else if (this.httpMinor === 0) head += 'connection: keep-alive\r\n\r\n';
    else head += '\r\n';
    this.conn.out.text(head);
  }

  /** A piece of the body; false when the client is not keeping up (clientDrained() follows). */
  write(chunk: Buffer): boolean {
    if (this.finished || this.noBody || chunk.length === 0) return true;
    const out = this.conn.out;
    if (this.chunked) {
      out.text(`${chunk.length.toString(16)}\r\n`);
      out.bytes(chunk);
      out.text('\r\n');
    } else out.bytes(chunk);
    if (out.writable) return true;
    this.wantsDrain = true;
    return false;
  }

  /** The end of the answer (with a last piece of body, e.g. a JSON error). */
  end(body?: Buffer): void {
    if (this.finished) return;
    if (body !== undefined) this.write(body);
    this.finished = true;
    if (this.chunked) this.conn.out.text('0\r\n\r\n');
    this.conn.answered(this);
  }

  /**
   * Whether a 101 can switch the connection now: this is an Upgrade request, its message is complete
   * and the parser stopped right after it (nothing the client sent later was read as HTTP).
   */
  get canSwitch(): boolean {
    return this.upgrade && !this.headersSent && this.conn.stoppedAfter(this);
  }

  /**
   * Answer `101 Switching Protocols` (`lines`: its header lines) and hand the connection over to a
   * Tunnel with `upstream` (`upstreamHead`: bytes the upstream sent after its own 101 head).
   * Only when canSwitch.
   */
  switchProtocols(lines: string, upstream: Socket, upstreamHead: Buffer): Tunnel {
    this.headersSent = true;
    this.finished = true;
    return this.conn.switchTo(`${statusLine(101)}${lines}\r\n`, upstream, upstreamHead);
  }

  /** Cut the connection: an answer that cannot be completed must not look complete. */
  destroy(): void {
    this.finished = true;
    this.conn.socket.destroy();
  }
}

/** One client connection: parser, requests in order, answers. */
export class ClientConnection {
  readonly out: Outbox;
  private readonly parser: HttpParser;
  /** the request being answered */
  current: FrontRequest | null = null;
  /** the request whose message the parser is in (head seen, message not complete) */
  private parsing: FrontRequest | null = null;
  /** pipelined requests waiting for `current` to be answered */
  private queue: FrontRequest[] = [];
  private slowHeaders: string[] = [];
  private slowUrl = '';
  private paused = false;
  /** no request after the current one: close once it is answered */
  closing = false;
  isClosed = false;
  /** clock.now when the bytes of a head started arriving (0: not in a head) */
  headSince = 0;
  /** clock.now when the connection last became idle */
  idleSince: number;
  /** the socket's libuv handle, read by the parser itself (null: 'data' events feed the parser) */
  private readonly handle: StreamHandle | null;
  /** inside a read (beginTurn() done) */
  private inTurn = false;
  /** the message just completed was an Upgrade request: llhttp stops after it */
  private upgradeStop = false;
  /**
   * What the client sent after an Upgrade request, not parsed: it is the next request or the other
   * protocol's first bytes, depending on the answer. Reading stops meanwhile.
   */
  private stopped: Buffer | null = null;
  /** heads parsed on this connection (error messages say how many came before a bad one) */
  private heads = 0;
  /** the parser failed: what is read from now on is dropped (see parseError) */
  private failed = false;
  /** the error answer to send once the answers before it are out */
  private failure: { head: string; body: Buffer } | null = null;
  /** the client's address (X-Forwarded-For, Forwarded) */
  readonly clientAddress: string;
  /** the forwarding header lines of a request that brought none of its own, built once per connection */
  readonly forwardLines: string;

  constructor(
    readonly front: FrontServer,
    readonly socket: Socket,
  ) {
    this.out = new Outbox(socket);
    this.idleSince = clock.now;
    this.clientAddress = clientAddress(socket.remoteAddress);
    this.forwardLines = forwardLines(this.clientAddress, undefined, undefined, false);
    const parser = new HTTPParser();
    parser.initialize(HTTPParser.REQUEST, {}, front.opts.maxHeaderSize, HTTPParser.kLenientNone);
    (parser as ParserWithConn).conn = this;
    parser[kOnHeaders] = onHeaders;
    parser[kOnHeadersComplete] = onHeadersComplete;
    parser[kOnBody] = onBody;
    parser[kOnMessageComplete] = onMessageComplete;
    this.parser = parser;
    const handle = (socket as unknown as { _handle?: StreamHandle | null })._handle;
    if (handle?.isStreamBase === true) {
      // node:http's own fast path: libuv reads go straight into llhttp (no Buffer, no stream
      // 'data' event per read); kOnExecute follows each read
      parser.consume(handle);
      parser[kOnExecute] = onExecute;
      this.handle = handle;
    } else {
      this.handle = null;
      socket.on('data', this.onSocketData);
    }
    socket.on('end', this.onSocketEnd);
    socket.on('error', () => {}); // 'close' follows
    socket.on('close', this.onSocketClose);
    socket.on('drain', this.onSocketDrain);
  }

  // socket listeners, kept so that switchTo() can take them off
  private readonly onSocketData = (d: Buffer): void => this.onData(d);
  private readonly onSocketEnd = (): void => this.onEnd();
  private readonly onSocketClose = (): void => this.onClose();
  private readonly onSocketDrain = (): void => {
    const c = this.current;
    if (c?.wantsDrain) {
      c.wantsDrain = false;
      beginTurn();
      try {
        c.handler?.clientDrained();
      } finally {
        endTurn();
      }
    }
  };

  /** Writes made while a read is handled leave together at its end (outbox.ts). */
  private enterTurn(): void {
    if (!this.inTurn) {
      this.inTurn = true;
      beginTurn();
    }
  }

  private leaveTurn(): void {
    if (this.inTurn) {
      this.inTurn = false;
      endTurn();
    }
  }

  /** 'data' event (a socket the parser cannot read itself) */
  private onData(d: Buffer): void {
    if (this.isClosed || this.failed) return;
    this.enterTurn();
    try {
      this.afterRead(this.parseRest(d, this.parser.execute(d)));
    } finally {
      this.leaveTurn();
    }
  }

  /** @internal kOnExecute: the parser read and parsed `ret` bytes (or failed) */
  executed(ret: number | ParseError): void {
    this.enterTurn();
    try {
      // only an Upgrade request stops llhttp short of a read's end; getCurrentBuffer() copies the read
      if (this.upgradeStop && typeof ret === 'number' && !this.isClosed)
        ret = this.parseRest(this.parser.getCurrentBuffer(), ret);
      else this.upgradeStop = false;
      this.afterRead(ret);
    } finally {
      this.leaveTurn();
    }
  }

  /**
   * An Upgrade request stops llhttp at its end; `ret` bytes of `d` were parsed. While its answer is
   * to come, the rest waits (`stopped`); if it was answered already (refused at once), the
   * connection goes on as HTTP with the rest.
   */
  private parseRest(d: Buffer, ret: number | ParseError): number | ParseError {
    while (this.upgradeStop && typeof ret === 'number' && !this.isClosed) {
      this.upgradeStop = false;
      d = d.subarray(ret);
      if (this.current !== null) {
        this.stopped = d;
        this.updateReading();
        return ret;
      }
      if (d.length === 0) break;
      ret = this.parser.execute(d);
    }
    this.upgradeStop = false;
    return ret;
  }

  /** the parser stopped right after `req` and waits for its answer */
  stoppedAfter(req: FrontRequest): boolean {
    return req === this.current && this.stopped !== null && !this.isClosed && this.queue.length === 0;
  }

  /** After the answer to an Upgrade request that did not switch: parse what the client sent after it. */
  private parseStopped(): void {
    const d = this.stopped!;
    this.stopped = null;
    if (d.length > 0) {
      this.enterTurn();
      try {
        this.afterRead(this.parseRest(d, this.parser.execute(d)));
      } finally {
        this.leaveTurn();
      }
    }
    this.updateReading();
  }

  /**
   * @internal 101: send `head` and leave HTTP; the socket goes to a Tunnel with `upstream`. The
   * parser lets go of the socket (unconsume, as node:http does on 'upgrade') and is closed.
   */
  switchTo(head: string, upstream: Socket, upstreamHead: Buffer): Tunnel {
    const socket = this.socket;
    this.out.text(head);
    this.out.flush(); // before any tunnel byte
    const rest = this.stopped!;
    this.stopped = null;
    this.current = null;
    this.isClosed = true;
    this.front.conns.delete(this);
    socket.off('end', this.onSocketEnd);
    socket.off('close', this.onSocketClose);
    socket.off('drain', this.onSocketDrain);
    const h = this.handle;
    if (h !== null) {
      this.parser.unconsume();
      // the stream's own reads take over; the front stopped them (while waiting for this answer)
      // behind the stream's back, and the stream thinks it is reading: start them again here
      if (!h.reading) {
        h.reading = true;
        h.readStart();
      }
    } else socket.off('data', this.onSocketData);
    setImmediate(closeParser, this.parser);
    const tunnel = new Tunnel(socket, rest, upstream, upstreamHead);
    const tunnels = this.front.tunnels;
    tunnels.add(tunnel);
    void tunnel.closed.then(() => tunnels.delete(tunnel));
    return tunnel;
  }

  private afterRead(ret: number | ParseError): void {
    if (typeof ret !== 'number') this.parseError(ret);
    // bytes of a head that is not complete yet: the headers timeout runs
    else if (this.parsing === null && this.current === null && this.headSince === 0)
      this.headSince = clock.now;
  }

  /**
   * llhttp failed. Requests before the bad bytes are complete: their answers go first, then the
   * error answer, then the connection closes. The request the parser was in (its body was bad) is
   * answered with the error instead: by the gateway if it has it (it cuts its upstream call), else
   * in its place in the queue. From now on reads are dropped, not left unread: closing a socket with
   * unread bytes resets it, and a reset can destroy answers the client has not read yet.
   */
  private parseError(err: ParseError): void {
    if (this.failed) return; // llhttp gives the same error for every later read
    this.failed = true;
    const p = this.parsing;
    this.parsing = null;
    this.headSince = 0;
    const { status, message } = parseFailure(
      err,
      p,
      p === null ? this.heads : this.heads - 1,
      this.front.opts.maxHeaderSize,
    );
    if (p !== null) {
      if (p === this.current) {
        if (!p.finished) p.failed(status, message);
        else {
          // answered early, its body was being dropped: that answer stands, nothing more to say
          this.current = null;
          this.close();
        }
        return;
      }
      // queued behind an answer in progress (always the last one), never handed to the gateway
      this.queue.pop();
    }
    this.failure = errorAnswer(status, message);
    if (this.current === null) this.sendFailure();
  }

  private sendFailure(): void {
    const f = this.failure!;
    this.failure = null;
    this.out.text(f.head);
    this.out.bytes(f.body);
    this.close();
  }

  /** Flush and half-close; the socket is destroyed when the peer closes (or by the sweep). */
  private close(): void {
    this.closing = true;
    this.isClosed = true;
    this.out.end();
    this.socket.destroySoon();
  }

  private onEnd(): void {
    // A client that half-closes is taken as gone, as nginx (499) and node:http do: an answer in
    // flight is cut and its upstream call aborted, instead of holding it for a reader that left.
    this.socket.destroy();
  }

  private onClose(): void {
    if (this.front.conns.delete(this)) {
      this.isClosed = true;
      const current = this.current;
      this.current = null;
      this.queue.length = 0;
      current?.closed();
      if (this.parsing !== null && this.parsing !== current) this.parsing.closed();
      // the parser's C++ side goes once no execute() is on the stack
      if (this.handle !== null) this.parser.unconsume();
      setImmediate(closeParser, this.parser);
    }
  }

  /** @internal parser callbacks */
  headersComplete(
    major: number,
    minor: number,
    headers: string[] | undefined,
    method: number,
    url: string | undefined,
    upgrade: boolean,
    keepAlive: boolean,
  ): number {
    if (headers === undefined) {
      headers = this.slowHeaders;
      this.slowHeaders = [];
    }
    if (url === undefined) {
      url = this.slowUrl;
      this.slowUrl = '';
    }
    this.enterTurn();
    this.headSince = 0;
    this.heads++;
    const name = METHODS[method];
    if (name === 'CONNECT' || name === 'PRI') {
      // no tunnels through the gateway (node:http without a 'connect' listener does the same)
      this.socket.destroy();
      return 0;
    }
    const req = new FrontRequest(this, name, url, headers, major, minor, keepAlive, upgrade);
    this.parsing = req;
    if (this.current === null) {
      this.current = req;
      this.front.onRequest(req);
    } else {
      this.queue.push(req);
      this.updateReading();
    }
    return 0;
  }

  slowHead(headers: string[], url: string): void {
    for (let i = 0; i < headers.length; i++) this.slowHeaders.push(headers[i]);
    this.slowUrl += url;
  }

  body(chunk: Buffer): void {
    this.enterTurn();
    this.parsing?.bodyChunk(chunk);
  }

  messageComplete(): void {
    this.enterTurn();
    const req = this.parsing;
    if (req === null) return;
    this.parsing = null;
    if (req.upgrade) this.upgradeStop = true; // llhttp pauses right after this callback
    req.messageComplete();
    if (req.finished && req === this.current) this.next();
    this.updateReading();
  }

  /** @internal FrontRequest.end(): the answer is written */
  answered(req: FrontRequest): void {
    if (req !== this.current) return;
    if (!req.keepAlive) {
      this.current = null;
      this.close();
      return;
    }
    if (!req.bodyComplete) {
      if (req.expectContinue) {
        // the client may still hold its body back or send it: the stream is ambiguous, close it
        this.current = null;
        this.close();
        return;
      }
      req.discardBody(); // next() once its message is complete
      return;
    }
    this.next();
  }

  /** this is the last request the connection will answer (closing, none pipelined behind it) */
  get lastOne(): boolean {
    return this.closing && this.queue.length === 0;
  }

  private next(): void {
    this.current = null;
    this.idleSince = clock.now;
    const req = this.queue.shift();
    if (req !== undefined) {
      this.current = req;
      this.front.onRequest(req);
    } else if (this.failure !== null) {
      this.sendFailure();
      return;
    } else if (this.closing) {
      this.close();
      return;
    } else if (this.stopped !== null) {
      this.parseStopped(); // an Upgrade request answered without 101: HTTP goes on
      return;
    }
    this.updateReading();
  }

  /** Read from the socket only when the parser's output has somewhere to go. */
  updateReading(): void {
    if (this.isClosed) return;
    const p = this.parsing;
    const want =
      this.failed ||
      (this.queue.length === 0 && this.stopped === null && (p === null || p.bodyComplete || p.bodyFlowing));
    const h = this.handle;
    if (want && this.paused) {
      this.paused = false;
      if (h === null) this.socket.resume();
      else if (!h.reading) {
        h.reading = true;
        h.readStart();
      }
    } else if (!want && !this.paused) {
      this.paused = true;
      if (h === null) this.socket.pause();
      else if (h.reading) {
        h.reading = false;
        h.readStop();
      }
    }
  }

  /** @internal FrontServer's sweep */
  sweep(now: number): void {
    const o = this.front.opts;
    if (this.current === null && this.parsing === null) {
      if (this.headSince !== 0) {
        if (now - this.headSince > o.headersTimeoutMs) {
          const { head, body } = errorAnswer(
            408,
            `request head not complete within ${o.headersTimeoutMs} ms`,
          );
          this.out.text(head);
          this.out.bytes(body);
          this.close();
          this.socket.destroy();
        }
      } else if (now - this.idleSince > o.keepAliveTimeoutMs) this.socket.destroy();
    } else if (this.parsing !== null && now - this.parsing.startedAt > o.requestTimeoutMs) {
      this.socket.destroy();
    }
  }
}

type ParserWithConn = HttpParser & { conn: ClientConnection };

/** the socket's libuv stream handle (net.Socket#_handle), what node:http hands to parser.consume() */
interface StreamHandle {
  isStreamBase?: boolean;
  reading: boolean;
  readStart(): number;
  readStop(): number;
}

function onExecute(this: ParserWithConn, ret: number | ParseError): void {
  this.conn.executed(ret);
}

function onHeaders(this: ParserWithConn, headers: string[], url: string): void {
  this.conn.slowHead(headers, url);
}

function onHeadersComplete(
  this: ParserWithConn,
  major: number,
  minor: number,
  headers: string[] | undefined,
  method: number,
  url: string | undefined,
  _status: number,
  _statusMessage: string,
  upgrade: boolean,
  keepAlive: boolean,
): number {
  return this.conn.headersComplete(major, minor, headers, method, url, upgrade, keepAlive);
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

/** The listening socket and its connections. */
export class FrontServer {
  readonly server: Server;
  readonly conns = new Set<ClientConnection>();
  /** connections switched to another protocol (WebSocket, …) */
  readonly tunnels = new Set<Tunnel>();
  private stopSweep: (() => void) | undefined;

  constructor(
    readonly opts: FrontOptions,
    readonly onRequest: (req: FrontRequest) => void,
  ) {
    // allowHalfOpen: the connection decides itself what a client's FIN means (onEnd)
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      this.conns.add(new ClientConnection(this, socket));
    });
    this.stopSweep = onTick(() => {
      const now = clock.now;
      for (const c of this.conns) c.sweep(now);
    });
  }

  listen(port: number, host: string): Promise<{ address: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as { address: string; port: number });
      });
    });
  }

  /** Stop accepting; idle keep-alive connections close now, busy ones after their answer. */
  close(): void {
    this.server.close();
    for (const c of this.conns) {
      c.closing = true;
      if (c.current === null) c.socket.destroy();
    }
  }

  closeAll(): void {
    for (const c of this.conns) c.socket.destroy();
    for (const t of this.tunnels) t.destroy();
    this.stopSweep?.();
    this.stopSweep = undefined;
  }
}
