import type { BodyReader, FrontRequest } from './front.js';
import type { UpstreamConn } from './upstream.js';

/**
 * A request body on its way upstream, passed on chunk by chunk with backpressure (never buffered
 * as a whole), that also keeps a copy while the body stays within `limit` bytes, so the request
 * can be replayed once after a 421. When the upstream answers before the body was sent (it is
 * detached), the copy goes on filling from the client.
 */
export class RequestBody implements BodyReader {
  private readonly req: FrontRequest;
  private readonly limit: number;
  /** the client sent it chunked: it goes upstream chunked too (its length is not known) */
  readonly chunked: boolean;
  private chunks: Buffer[] | null = [];
  private size = 0;
  private sink: UpstreamConn | null = null;
  private reading = false;
  /** the client's body has ended */
  ended = false;
  /** some of it went to an upstream (so it is no longer untouched) */
  started = false;
  private failed = false;
  private released = false;
  private waiters: ((complete: boolean) => void)[] = [];

  constructor(req: FrontRequest, limit: number, chunked: boolean) {
    this.req = req;
    this.limit = limit;
    this.chunked = chunked;
  }

  /** the copy is still whole (the body has not passed the limit) */
  get keeping(): boolean {
    return this.chunks !== null;
  }

  /** Send the body to `conn` as it arrives (after the request head). */
  attach(conn: UpstreamConn): void {
    this.sink = conn;
    this.started = true;
    if (!this.reading) {
      this.reading = true;
      this.req.readBody(this);
    } else this.req.resumeBody();
  }

  /** The upstream answered or failed: stop sending; keep filling the copy while it can still serve a replay. */
  detach(): void {
    this.sink = null;
  }

  /** The upstream took what was queued: read on. */
  drained(): void {
    if (this.sink !== null) this.req.resumeBody();
  }

  onBodyData(chunk: Buffer): boolean {
    if (this.released) return true;
    if (this.chunks !== null) {
      this.size += chunk.length;
      if (this.size > this.limit) {
        this.chunks = null;
        this.settle(); // a replay waiting for the whole body gets its answer: too big
      } else this.chunks.push(chunk);
    }
    if (this.sink !== null) return this.sink.writeBody(chunk, this.chunked);
    // nobody to send to: read on only while the copy needs it
    return this.chunks !== null;
  }

  onBodyEnd(): void {
    this.ended = true;
    this.sink?.endBody(this.chunked);
    this.settle();
  }

  onBodyError(): void {
    this.failed = true;
    this.settle();
  }

  /** Resolves true once the whole body is in the copy; false if it passed the limit or the client failed. */
  whenComplete(): Promise<boolean> {
    if (this.ended || this.failed || this.chunks === null) return Promise.resolve(this.complete());
    if (!this.reading) {
      this.reading = true;
      this.req.readBody(this);
    } else this.req.resumeBody();
    if (this.ended || this.failed) return Promise.resolve(this.complete());
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The whole body (only after whenComplete() resolved true). */
  copy(): Buffer {
    return Buffer.concat(this.chunks ?? []);
  }

  /** The exchange is over: drop the copy (the front discards whatever the client still sends). */
  release(): void {
    this.released = true;
    this.sink = null;
    this.chunks = null;
  }

  private complete(): boolean {
    return this.ended && !this.failed && this.chunks !== null;
  }

  private settle(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w(this.complete());
  }
}
