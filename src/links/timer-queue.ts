/**
 * A FIFO of items released at (non-decreasing) due times with ONE timer per queue, not one per
 * chunk: fewer timers to schedule, and order is kept by construction. Times are
 * `performance.now()` milliseconds. Node's timers run off the event loop's cached, truncated
 * millisecond clock and fire up to ~1 ms early against the monotonic clock, so a release re-checks
 * the clock: less than a millisecond early, it finishes the wait with setImmediate turns (the loop
 * keeps serving I/O meanwhile) instead of another whole-millisecond timer. An item may leave late,
 * never early, and typically leaves within ~0.2 ms of its due time.
 */
export class TimerQueue<T> {
  private items: T[] = [];
  private dues: number[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;

  constructor(private readonly release: (item: T) => void) {}

  get size(): number {
    return this.items.length - this.head;
  }

  /** Queue `item` for `due`; released at once (synchronously) when nothing waits and it is due. */
  add(item: T, due: number): void {
    if (this.size === 0 && due <= performance.now()) {
      this.release(item);
      return;
    }
    this.items.push(item);
    this.dues.push(due);
    if (this.size === 1) this.arm(due);
  }

  /** Due time of the last queued item (or -Infinity). */
  get lastDue(): number {
    return this.size === 0 ? Number.NEGATIVE_INFINITY : this.dues[this.dues.length - 1];
  }

  /** Stop the timer and hand back what is still queued, in order. */
  take(): T[] {
    this.disarm();
    const rest = this.items.slice(this.head);
    this.items = [];
    this.dues = [];
    this.head = 0;
    return rest;
  }

  private disarm(): void {
    if (this.timer === null) return;
    if ('refresh' in this.timer) clearTimeout(this.timer);
    else clearImmediate(this.timer as NodeJS.Immediate);
    this.timer = null;
  }

  private arm(due: number): void {
    const wait = due - performance.now();
    this.timer = wait >= 1 ? setTimeout(this.fire, Math.floor(wait)) : setImmediate(this.fire);
  }

  private readonly fire = (): void => {
    this.timer = null;
    const now = performance.now();
    while (this.head < this.items.length && this.dues[this.head] <= now) {
      const item = this.items[this.head];
      this.head++;
      this.release(item);
      if (this.timer !== null || this.items.length === 0) return; // released into a take()/re-add
    }
    if (this.head === this.items.length) {
      this.items = [];
      this.dues = [];
      this.head = 0;
    } else {
      if (this.head > 1024) {
        this.items = this.items.slice(this.head);
        this.dues = this.dues.slice(this.head);
        this.head = 0;
      }
      this.arm(this.dues[this.head]);
    }
  };
}
