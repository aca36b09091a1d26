/**
 * A connection after `101 Switching Protocols` (WebSocket, …): the client's socket and the upstream's,
 * piped both ways with backpressure until both have closed. The gateway no longer parses anything.
 */
import type { Socket } from 'node:net';

/** After one side closed, the other gets this long to take what it was sent before it is cut. */
const LINGER_MS = 10_000;

function ignore(): void {}

export class Tunnel {
  /** bytes from the client to the upstream, and back */
  bytesIn = 0;
  bytesOut = 0;
  readonly openedAt = performance.now();
  /** resolves once both sockets are closed */
  readonly closed: Promise<void>;
  private settle!: () => void;
  private ended = false;

  /**
   * `clientHead`: what the client sent after its Upgrade request, before the answer came;
   * `upstreamHead`: what the upstream sent after its 101 head in the same read. Both sockets are
   * taken over: nobody else may read them any more.
   */
  constructor(
    readonly client: Socket,
    clientHead: Buffer,
    readonly upstream: Socket,
    upstreamHead: Buffer,
  ) {
    this.closed = new Promise((resolve) => {
      this.settle = resolve;
    });
    client.on('error', ignore); // 'close' follows
    upstream.on('error', ignore);
    if (upstreamHead.length > 0) {
      this.bytesOut += upstreamHead.length;
      client.write(upstreamHead);
    }
    if (clientHead.length > 0) {
      this.bytesIn += clientHead.length;
      upstream.write(clientHead);
    }
    // a side that cannot take more pauses the other until it drains
    client.on('data', (d: Buffer) => {
      this.bytesIn += d.length;
      if (!upstream.write(d)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.on('data', (d: Buffer) => {
      this.bytesOut += d.length;
      if (!client.write(d)) upstream.pause();
    });
    client.on('drain', () => upstream.resume());
    // half-close: a FIN is passed on, the other direction stays open
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('close', () => this.sideClosed(upstream));
    upstream.on('close', () => this.sideClosed(client));
    client.resume();
    upstream.resume();
  }

  /** Cut both sides now (shutdown). */
  destroy(): void {
    this.client.destroy();
    this.upstream.destroy();
  }

  /** One socket closed (cleanly or not): the other is ended (what it holds still goes out), and cut if it lingers. */
  private sideClosed(other: Socket): void {
    if (!other.destroyed) {
      other.end();
      const t = setTimeout(() => other.destroy(), LINGER_MS);
      t.unref();
      other.once('close', () => clearTimeout(t));
    }
    if (!this.ended && this.client.destroyed && this.upstream.destroyed) {
      this.ended = true;
      this.settle();
    }
  }
}
