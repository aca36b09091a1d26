/**
 * Reconnect delays: exponential with "equal jitter" (half fixed, half random), so many SDKs that
 * lost the same GZS (or replicators the same database) do not come back in lockstep, and none retries in a tight loop. Hand-written:
 * six lines, not worth a dependency.
 */
export interface BackoffOptions {
  /** first delay's upper bound (default 100 ms) */
  initialMs?: number;
  /** cap (default 5000 ms) */
  maxMs?: number;
}

/** Delay before retry round `round` (0-based): in [cap/2, cap] where cap = min(max, initial·2^round). */
export function backoffDelay(round: number, opts: BackoffOptions = {}, random = Math.random): number {
  const initial = opts.initialMs ?? 100;
  const max = opts.maxMs ?? 5000;
  const cap = Math.min(max, initial * 2 ** Math.min(round, 30));
  return Math.round(cap / 2 + (random() * cap) / 2);
}
