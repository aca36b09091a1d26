/**
 * A sleep that another event can cut short: a loop waits for work or a timeout, and whoever brings
 * work (a binlog event, an error, stop()) wakes it at once instead of letting it sleep out.
 */
export class Wakeable {
  private wakeNow: (() => void) | null = null;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wakeNow = done;
    });
  }

  /** end the current sleep, if any */
  wake(): void {
    const w = this.wakeNow;
    this.wakeNow = null;
    w?.();
  }
}
