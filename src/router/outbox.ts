import type { Socket } from 'node:net';

/** Chunks up to this size are copied into the pending text; bigger ones are written as they are. */
const SMALL = 16 * 1024;

/** Outboxes with pending bytes, flushed at the end of the current turn. */
let dirty: Outbox[] = [];
let depth = 0;
let tickScheduled = false;

/**
 * An I/O callback begins (socket data, connect, drain): what it writes is sent when it ends
 * (endTurn), one write per socket. Outside such a callback (a promise continuation, a timer) the
 * pending bytes go at process.nextTick. Explicit turns avoid a nextTick per write: on Node 20 each
 * nextTick round allocates in processPromiseRejections, ~0.5 KB per request.
 */
export function beginTurn(): void {
  depth++;
}

export function endTurn(): void {
  if (--depth === 0 && dirty.length > 0) flushDirty();
}

function flushDirty(): void {
  tickScheduled = false;
  const list = dirty;
  dirty = [];
  for (let i = 0; i < list.length; i++) list[i].flushQueued();
}

/**
 * What a gateway socket is to send, coalesced: everything written during one turn (an answer's
 * head and its body, a request's head and the first bytes of its body) leaves in one `write` — one
 * syscall, one segment. Small chunks are kept as latin1 text (a lossless byte-for-byte copy) so the
 * turn's output is a single string; node:http writes head and body as separate chunks of a writev.
 */
export class Outbox {
  private pending = '';
  private queued = false;

  constructor(readonly socket: Socket) {}

  /** Queue latin1 text (HTTP heads, chunk framing). */
  text(s: string): void {
    this.pending += s;
    if (!this.queued) {
      this.queued = true;
      dirty.push(this);
      if (depth === 0 && !tickScheduled) {
        tickScheduled = true;
        process.nextTick(flushDirty);
      }
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

  /** the end of the turn */
  flushQueued(): void {
    this.queued = false;
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
