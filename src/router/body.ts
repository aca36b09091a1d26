import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';

/**
 * A request body on its way upstream, streamed chunk by chunk with backpressure (never buffered
 * as a whole), that also keeps a copy while the body stays within `limit` bytes, so the request
 * can be replayed once after a 421. Destroying it (undici does when the upstream answered before
 * the body was sent) never touches the client's request: the copy goes on filling from it.
 */
export class BodyTee extends Readable {
  private readonly src: IncomingMessage;
  private readonly limit: number;
  private chunks: Buffer[] | null = [];
  private size = 0;
  /** the client's body has ended */
  ended = false;
  /** undici has pulled at least once (so the body is no longer untouched) */
  started = false;
  private failed = false;
  private released = false;
  private waiters: ((complete: boolean) => void)[] = [];

  constructor(src: IncomingMessage, limit: number) {
    super();
    this.src = src;
    this.limit = limit;
    src.on('data', (chunk: Buffer) => {
      if (this.released) return;
      if (this.chunks !== null) {
        this.size += chunk.length;
        if (this.size > this.limit) this.chunks = null;
        else this.chunks.push(chunk);
      }
      if (!this.destroyed) {
        if (!this.push(chunk)) src.pause();
      } else if (this.chunks === null) {
        src.pause(); // nobody needs the rest: node:http discards it when the answer ends
      }
    });
    src.on('end', () => {
      this.ended = true;
      if (!this.destroyed) this.push(null);
      this.settle();
    });
    src.on('error', (err) => this.fail(err));
    src.on('close', () => {
      if (!this.ended) this.fail(new Error('client closed the request body'));
    });
    src.pause();
  }

  /** the copy is still whole (the body has not passed the limit) */
  get keeping(): boolean {
    return this.chunks !== null;
  }

  override _read(): void {
    this.started = true;
    this.src.resume();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // keep reading the client's body into the copy (a 421 retry needs all of it)
    if (this.chunks !== null && !this.ended) this.src.resume();
    cb(err);
  }

  /** Resolves true once the whole body is in the copy; false if it passed the limit or the client failed. */
  whenComplete(): Promise<boolean> {
    if (this.ended || this.failed || this.chunks === null) return Promise.resolve(this.complete());
    this.src.resume();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The whole body (only after whenComplete() resolved true). */
  copy(): Buffer {
    return Buffer.concat(this.chunks ?? []);
  }

  /** The exchange is over: drop the copy and let node:http discard whatever the client still sends. */
  release(): void {
    this.released = true;
    this.chunks = null;
    if (!this.ended) this.src.resume();
  }

  private complete(): boolean {
    return this.ended && !this.failed && this.chunks !== null;
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    if (!this.destroyed) this.destroy(err);
    this.settle();
  }

  private settle(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w(this.complete());
  }
}
