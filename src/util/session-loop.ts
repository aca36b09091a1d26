/**
 * The reconnect loop of a long-running reader (a DRC replicator, a cache invalidator): run a
 * session until it fails, back off (exponential with jitter, reset once a session made progress or
 * lasted a while), start a new session that resumes from its checkpoint — until stopped.
 */
import { type BackoffOptions, backoffDelay } from './backoff.js';

export interface SessionLoopOptions {
  stopped(): boolean;
  /** one session; call `progress()` when it got somewhere (the backoff starts over) */
  session(progress: () => void): Promise<void>;
  /** an error that is not a failure (e.g. a direction stopped at a DDL): true when handled, then no backoff */
  handle?(err: unknown): Promise<boolean>;
  /** a failed session: count it, log it, change state (`delayMs` is the backoff that follows) */
  onFailure(err: unknown, attempt: number, delayMs: number): void;
  /** a sleep that stop() can cut short (util/wakeable.ts) */
  sleep(ms: number): Promise<void>;
  /** a session that lasted this long counts as progress (default 10 s) */
  healthyAfterMs?: number;
  backoff?: BackoffOptions;
}

export async function runSessions(o: SessionLoopOptions): Promise<void> {
  let attempt = 0;
  const healthyAfter = o.healthyAfterMs ?? 10_000;
  while (!o.stopped()) {
    const t0 = performance.now();
    try {
      await o.session(() => {
        attempt = 0;
      });
    } catch (err) {
      if (o.stopped()) break;
      if (o.handle && (await o.handle(err))) continue;
      if (performance.now() - t0 > healthyAfter) attempt = 0;
      attempt++;
      const delay = backoffDelay(attempt - 1, o.backoff);
      o.onFailure(err, attempt, delay);
      await o.sleep(delay);
    }
  }
}
