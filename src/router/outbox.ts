import type { Socket } from 'node:net';

/** Chunks up to this size are copied into the pending text; bigger ones are written as they are. */
const SMALL = 16 * 1024;

/**
 * What a gateway socket is to send, coalesced: everything written during one turn of the event
 * loop (an answer's head and its body, a request's head and the first bytes of its body) leaves in
 * one `write` — one syscall, one segment — at the end of the turn. Small chunks are kept as latin1
 * text (a lossless byte-for-byte copy) so the turn's output is a single string; node:http writes
 * head and body as separate chunks of a writev.
 */
export class Outbox {
  private pending = '';
  private scheduled = false;

  constructor(readonly socket: Socket) {}

  /** Queue latin1 text (HTTP heads, chunk framing). */
  text(s: string): void {
    this.pending += s;
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(flushOutbox, this);
    }
  }

  /** Queue bytes: copied into the pending text when small, else written after what is pending. */
  bytes(b: Buffer): void {
    if (b.length <= SMALL) {
      this.text(b.toString('latin1'));
      return;
    }
    this.flush();
    if (!this.socket.destroyed) this.socket.write(b);
  }

  /** false once the socket holds more than its high-water mark: wait for its 'drain' (which then comes). */
  get writable(): boolean {
    if (this.pending.length >= SMALL * 4) this.flush();
    return !this.socket.writableNeedDrain;
  }

  /** the end of the turn (process.nextTick) */
  flushScheduled(): void {
    this.scheduled = false;
    this.flush();
  }

  flush(): void {
    if (this.pending === '') return;
    const s = this.pending;
    this.pending = '';
    if (!this.socket.destroyed) this.socket.write(s, 'latin1');
  }

  /** Flush, then half-close the socket (FIN after the queued bytes). */
  end(): void {
    this.flush();
    if (!this.socket.destroyed) this.socket.end();
  }

  discard(): void {
    this.pending = '';
  }
}

function flushOutbox(o: Outbox): void {
  o.flushScheduled();
}
