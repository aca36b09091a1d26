// The toxics as stream stages (latency, bandwidth, stall, timeout, slicer, …), in order, never reordering.
import type { Random } from '../util/random.js';
import { TimerQueue } from './timer-queue.js';
import type { ToxicSpec } from './toxic.js';

/**
 * What a toxic does to one direction of one connection. A link chains stages in the order the
 * toxics were added; each stage hands items on, in order, through `next`. An item is a chunk read
 * from the source (`data`) or the source's end of stream (`data === null`), with `t`, the time it
 * reached this stage (performance.now() ms).
 */
export interface Item {
  data: Buffer | null;
  t: number;
}

/** What a stage may ask of its link. */
export interface StageHost {
  /** bytes taken out of the stream (not delivered): they no longer count as held */
  dropped(bytes: number): void;
  /** close the whole connection: `reset` sends RST (reset_peer), otherwise FIN after queued writes */
  closeConnection(reset: boolean): void;
  readonly random: Random;
}

export abstract class Stage {
  next: (item: Item) => void = () => {};
  constructor(
    public spec: ToxicSpec,
    protected readonly host: StageHost,
  ) {}
  abstract push(item: Item): void;
  /** The toxic is removed: stop, and hand back held items (in order) for the next stage. */
  take(): Item[] {
    return [];
  }
  /** New attributes: they apply to items that arrive from now on. */
  update(spec: ToxicSpec): void {
    this.spec = spec;
  }
  /** The connection is gone: stop timers. */
  dispose(): void {
    this.take();
  }
}

/** noop, and every toxic this connection drew as inactive (toxicity). */
export class PassStage extends Stage {
  push(item: Item): void {
    this.next(item);
  }
}

/** Base of stages that release items at due times, in order, off one timer queue. */
abstract class TimedStage extends Stage {
  protected readonly queue = new TimerQueue<Item>((item) => this.next(item));
  protected at(item: Item, due: number): void {
    const d = Math.max(due, this.queue.lastDue);
    item.t = d;
    this.queue.add(item, d);
  }
  override take(): Item[] {
    return this.queue.take();
  }
}

/** latency ± jitter per chunk (and for the end of stream: a FIN crosses the link too). Never reorders. */
export class LatencyStage extends TimedStage {
  push(item: Item): void {
    this.at(item, item.t + latencyDelay(this.spec, this.host.random));
  }
}

/** One draw of latency ± jitter (ms), Toxiproxy's uniform jitter; never below 0. */
export function latencyDelay(spec: ToxicSpec, random: Random): number {
  const latency = spec.attributes.latency as number;
  const jitter = spec.attributes.jitter as number;
  if (jitter <= 0) return latency;
  return Math.max(0, latency + (random() * 2 - 1) * jitter);
}

/** rate KB/s (1 KB = 1000 bytes, as Toxiproxy): each piece leaves when its transmission would finish. */
export class BandwidthStage extends TimedStage {
  private cursor = Number.NEGATIVE_INFINITY;
  push(item: Item): void {
    const rate = this.spec.attributes.rate as number; // bytes per ms
    if (rate <= 0 || item.data === null) {
      this.at(item, item.t);
      return;
    }
    this.cursor = Math.max(this.cursor, item.t);
    // pieces of ~20 ms of transmission, so a slow rate streams instead of bursting whole chunks
    const piece = Math.max(1, rate * 20);
    const data = item.data;
    for (let off = 0; off < data.length; off += piece) {
      const part = off === 0 && piece >= data.length ? data : data.subarray(off, off + piece);
      this.cursor += part.length / rate;
      this.at({ data: part, t: item.t }, this.cursor);
    }
  }
}

/** slicer: splits chunks into ~average_size ± size_variation pieces, `delay` µs apart. */
export class SlicerStage extends TimedStage {
  private cursor = Number.NEGATIVE_INFINITY;
  push(item: Item): void {
    if (item.data === null) {
      this.at(item, Math.max(item.t, this.cursor));
      return;
    }
    const cuts = sliceOffsets(
      item.data.length,
      this.spec.attributes.average_size as number,
      this.spec.attributes.size_variation as number,
      this.host.random,
    );
    const gap = (this.spec.attributes.delay as number) / 1000;
    this.cursor = Math.max(this.cursor, item.t);
    for (let i = 1; i < cuts.length; i++) {
      this.at({ data: item.data.subarray(cuts[i - 1], cuts[i]), t: item.t }, this.cursor);
      this.cursor += gap;
    }
  }
}

/**
 * Cut points [0, …, size] for the slicer: halves around the middle ± variation until a piece is
 * within average + variation (Toxiproxy's rule), iteratively so huge chunks cannot overflow the stack.
 */
export function sliceOffsets(size: number, average: number, variation: number, random: Random): number[] {
  const cuts: number[] = [0];
  const stack: [number, number][] = [[0, size]];
  while (stack.length) {
    const [start, end] = stack.pop()!;
    if (end - start - average <= variation || end - start < 2) {
      cuts.push(end);
      continue;
    }
    const shift = variation > 0 ? Math.floor(random() * 2 * variation) - variation : 0;
    const mid = Math.min(end - 1, Math.max(start + 1, start + Math.floor((end - start) / 2) + shift));
    stack.push([mid, end], [start, mid]);
  }
  return cuts;
}

/** slow_close: data flows; the end of stream waits `delay` ms. */
export class SlowCloseStage extends TimedStage {
  push(item: Item): void {
    this.at(item, item.data === null ? item.t + (this.spec.attributes.delay as number) : item.t);
  }
}

/**
 * timeout: drops all data; closes the connection `timeout` ms after the toxic took effect (0 = never).
 * Removing it closes the connection too, as in Toxiproxy (the stream lost bytes: it cannot go on).
 */
export class TimeoutStage extends Stage {
  private timer: NodeJS.Timeout | null = null;
  private removed = false;
  constructor(spec: ToxicSpec, host: StageHost) {
    super(spec, host);
    this.arm();
  }
  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const timeout = this.spec.attributes.timeout as number;
    if (timeout > 0) this.timer = setTimeout(() => this.host.closeConnection(false), timeout);
  }
  push(item: Item): void {
    if (item.data === null) this.next(item);
    else this.host.dropped(item.data.length);
  }
  override update(spec: ToxicSpec): void {
    const changed = spec.attributes.timeout !== this.spec.attributes.timeout;
    this.spec = spec;
    if (changed) this.arm();
  }
  override take(): Item[] {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.removed) {
      this.removed = true;
      setImmediate(() => this.host.closeConnection(false));
    }
    return [];
  }
  override dispose(): void {
    this.removed = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

/** reset_peer: on the first data after it took effect, waits `timeout` ms and resets (RST) the connection. */
export class ResetPeerStage extends Stage {
  private timer: NodeJS.Timeout | null = null;
  push(item: Item): void {
    if (item.data === null) {
      this.next(item);
      return;
    }
    this.host.dropped(item.data.length);
    if (!this.timer)
      this.timer = setTimeout(() => this.host.closeConnection(true), this.spec.attributes.timeout as number);
  }
  override take(): Item[] {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    return [];
  }
}

/** limit_data: passes `bytes` in total on this connection and direction, then closes the connection. */
export class LimitDataStage extends Stage {
  private passed = 0;
  private closed = false;
  push(item: Item): void {
    if (this.closed) {
      if (item.data) this.host.dropped(item.data.length);
      return;
    }
    if (item.data === null) {
      this.next(item);
      return;
    }
    const left = (this.spec.attributes.bytes as number) - this.passed;
    if (item.data.length <= left) {
      this.passed += item.data.length;
      this.next(item);
      if (item.data.length < left) return;
    } else {
      if (left > 0) this.next({ data: item.data.subarray(0, left), t: item.t });
      this.host.dropped(item.data.length - Math.max(0, left));
      this.passed += Math.max(0, left);
    }
    this.closed = true;
    this.host.closeConnection(false);
  }
  override update(spec: ToxicSpec): void {
    this.spec = spec;
    if (!this.closed && this.passed >= (spec.attributes.bytes as number)) {
      this.closed = true;
      this.host.closeConnection(false);
    }
  }
}

/** stall (extension): holds everything, end of stream included, until removed; then the bytes flow on. */
export class StallStage extends Stage {
  private held: Item[] = [];
  push(item: Item): void {
    this.held.push(item);
  }
  override take(): Item[] {
    const out = this.held;
    this.held = [];
    return out;
  }
}

export function createStage(spec: ToxicSpec, active: boolean, host: StageHost): Stage {
  if (!active) return new PassStage(spec, host);
  switch (spec.type) {
    case 'latency':
      return new LatencyStage(spec, host);
    case 'bandwidth':
      return new BandwidthStage(spec, host);
    case 'slicer':
      return new SlicerStage(spec, host);
    case 'slow_close':
      return new SlowCloseStage(spec, host);
    case 'timeout':
      return new TimeoutStage(spec, host);
    case 'reset_peer':
      return new ResetPeerStage(spec, host);
    case 'limit_data':
      return new LimitDataStage(spec, host);
    case 'stall':
      return new StallStage(spec, host);
    case 'noop':
      return new PassStage(spec, host);
  }
}
