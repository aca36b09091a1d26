/**
 * A coarse clock for the gateway's timeouts (keep-alive idle, header and body timeouts): one
 * interval timer per process, 250 ms apart, updates `clock.now` and the HTTP `Date` text and runs
 * the registered sweeps. Connections only store `clock.now` in a field on the hot path; a timer per
 * request or per read (what node:http and undici arm) costs more than the proxying of a small
 * request. Timeouts are therefore exact to about ±250 ms.
 */
export const TICK_MS = 250;

export const clock = {
  /** Date.now() as of the last tick */
  now: Date.now(),
  /** `Date` header value (RFC 9110 IMF-fixdate) as of the last tick */
  date: new Date().toUTCString(),
};

const sweeps = new Set<() => void>();
let timer: NodeJS.Timeout | undefined;

function tick(): void {
  clock.now = Date.now();
  clock.date = new Date(clock.now).toUTCString();
  for (const sweep of sweeps) sweep();
}

/** Run `sweep` every tick while registered (the timer never keeps the process alive). */
export function onTick(sweep: () => void): () => void {
  sweeps.add(sweep);
  if (timer === undefined) {
    clock.now = Date.now();
    clock.date = new Date(clock.now).toUTCString();
    timer = setInterval(tick, TICK_MS);
    timer.unref();
  }
  return () => {
    sweeps.delete(sweep);
    if (sweeps.size === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}
