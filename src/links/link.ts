// One connection through a proxy: two streams, each through its toxics' stages.
import type { Socket } from 'node:net';
import type { Random } from '../util/random.js';
import { createStage, type Item, type Stage, type StageHost, TimeoutStage } from './stage.js';
import type { Direction, ToxicSpec } from './toxic.js';

/** Per proxy and direction: bytes read from the source and written to the destination. */
export interface ByteCounters {
  received: number;
  sent: number;
}

/**
 * Bytes a link may hold inside its toxics (plus what the destination socket has queued) before it
 * pauses its source socket. Past this the kernel buffers fill and TCP pushes back on the sender,
 * as on a real congested link; memory stays bounded per connection.
 */
export const HIGH_WATER = 1024 * 1024;
const LOW_WATER = HIGH_WATER / 2;

/**
 * One direction of one proxied connection: source socket → toxic stages → destination socket.
 * With no toxic it is a plain pipe (write, pause on backpressure, resume on drain); with toxics,
 * chunks go through the stages in order and the link pauses its source while too much is held.
 */
export class Link implements StageHost {
  /** bytes read from the source */
  received = 0;
  /** bytes written to the destination */
  sent = 0;
  /** bytes read but not yet written (inside stages) */
  held = 0;
  private stages: Stage[] = [];
  private destBlocked = false;
  private paused = false;
  private started = false;
  private closed = false;

  constructor(
    readonly direction: Direction,
    private readonly source: Socket,
    private readonly dest: Socket,
    private readonly counters: ByteCounters,
    readonly random: Random,
    private readonly onClose: (reset: boolean) => void,
  ) {}

  start(): void {
    this.started = true;
    this.source.on('data', this.onData);
    this.source.on('end', this.onEnd);
    this.dest.on('drain', this.onDrain);
    if (!this.paused) this.source.resume();
  }

  /** Toxic names in chain order, with whether this connection drew them active. */
  get toxics(): string[] {
    return this.stages.map((s) => s.spec.name);
  }

  addToxic(spec: ToxicSpec, active: boolean): void {
    const stage = createStage(spec, active, this);
    stage.next = this.deliver;
    const last = this.stages[this.stages.length - 1];
    if (last) last.next = (item) => stage.push(item);
    this.stages.push(stage);
  }

  updateToxic(spec: ToxicSpec, active: boolean, wasActive: boolean): void {
    const i = this.stages.findIndex((s) => s.spec.name === spec.name);
    if (i < 0) return;
    const old = this.stages[i];
    if (active === wasActive) {
      old.update(spec);
      return;
    }
    // toxicity drew differently: swap the stage, flushing what the old one held onward
    let held: Item[] = [];
    if (old instanceof TimeoutStage)
      old.dispose(); // swapping is not removal: no close
    else held = old.take();
    const stage = createStage(spec, active, this);
    stage.next = old.next;
    this.stages[i] = stage;
    if (i > 0) this.stages[i - 1].next = (item) => stage.push(item);
    for (const item of held) stage.next(item);
  }

  /** Remove a toxic: what it held goes on at once, in order (Toxiproxy: "don't drop data on the floor"). */
  removeToxic(name: string): void {
    const i = this.stages.findIndex((s) => s.spec.name === name);
    if (i < 0) return;
    const stage = this.stages[i];
    const held = stage.take();
    this.stages.splice(i, 1);
    // stage.next is exactly "push into the following stage" (or deliver): the previous one takes it over
    const after = stage.next;
    if (i > 0) this.stages[i - 1].next = after;
    for (const item of held) after(item);
    this.maybeResume();
  }

  /** Connection gone: stop every timer. */
  dispose(): void {
    this.closed = true;
    for (const s of this.stages) s.dispose();
    this.stages = [];
  }

  // ---- hot path ----

  private readonly onData = (chunk: Buffer): void => {
    this.received += chunk.length;
    this.counters.received += chunk.length;
    if (this.stages.length === 0) {
      this.write(chunk);
      return;
    }
    this.held += chunk.length;
    this.stages[0].push({ data: chunk, t: performance.now() });
    if (this.held > HIGH_WATER && !this.paused) {
      this.paused = true;
      this.source.pause();
    }
  };

  private readonly onEnd = (): void => {
    if (this.stages.length === 0) this.endDest();
    else this.stages[0].push({ data: null, t: performance.now() });
  };

  private readonly deliver = (item: Item): void => {
    if (item.data === null) {
      this.endDest();
      return;
    }
    this.held -= item.data.length;
    this.write(item.data);
    if (this.paused) this.maybeResume();
  };

  private write(chunk: Buffer): void {
    if (this.closed || this.dest.destroyed) return;
    this.sent += chunk.length;
    this.counters.sent += chunk.length;
    if (!this.dest.write(chunk)) {
      this.destBlocked = true;
      if (!this.paused) {
        this.paused = true;
        this.source.pause();
      }
    }
  }

  private readonly onDrain = (): void => {
    this.destBlocked = false;
    this.maybeResume();
  };

  private maybeResume(): void {
    if (this.paused && !this.destBlocked && this.held <= LOW_WATER && !this.closed) {
      this.paused = false;
      if (this.started) this.source.resume();
    }
  }

  private endDest(): void {
    if (!this.closed && !this.dest.destroyed) this.dest.end();
  }

  // ---- StageHost ----

  dropped(bytes: number): void {
    this.held -= bytes;
    if (this.paused) this.maybeResume();
  }

  closeConnection(reset: boolean): void {
    this.onClose(reset);
  }
}
