import { type Logger, pino } from 'pino';
import { UsageError } from '../util/errors.js';

export type AccessLogMode = 'all' | 'errors' | 'off';

export interface AccessLogOptions {
  /** all requests (successes sampled by `sample`), only answers ≥ 400, or none */
  mode: AccessLogMode;
  /** fraction of successful requests logged in mode `all` (errors are always logged) */
  sample: number;
}

/**
 * Every error, 1% of successes: a full line costs ~8 µs of pino serialization plus its share of
 * the writes (bench/router.ts measured ~+25 µs CPU per request with every success logged, on a
 * ~60 µs budget). `--access-log-sample 1` logs them all.
 */
export const DEFAULT_ACCESS_LOG: AccessLogOptions = { mode: 'all', sample: 0.01 };

export interface AccessEntry {
  method: string;
  path: string;
  status: number;
  ms: number;
  zone?: string;
  shard?: number;
  epoch?: number;
  route?: string;
  upstream?: string;
  /** where the routing tag came from: header, cookie, query */
  tag?: string;
  code?: string;
  retried?: boolean;
  heldMs?: number;
  /** an Upgrade request answered 101: the protocol asked for (`websocket`), and which line this is */
  upgrade?: string;
  /** `open`: at the 101; `closed`: when the tunnel ended (`ms` is then its lifetime) */
  tunnel?: 'open' | 'closed';
  /** bytes through the tunnel from the client, and to it */
  bytesIn?: number;
  bytesOut?: number;
}

/**
 * JSON access log, one line per request, off the hot path: pino writes through an asynchronous
 * sonic-boom buffer (flushed every 4 KB and on exit), and successful requests can be sampled.
 * bench/router.ts measures its cost (docs/router.md).
 */
export class AccessLog {
  private readonly logger: Logger | undefined;
  private readonly dest: ReturnType<typeof pino.destination> | undefined;
  private readonly all: boolean;
  private readonly sample: number;

  constructor(part: string, opts: AccessLogOptions, fields: Record<string, unknown> = {}) {
    this.all = opts.mode === 'all';
    this.sample = opts.sample;
    if (opts.mode === 'off') return;
    this.dest = pino.destination({ dest: 1, sync: false, minLength: 4096 });
    this.logger = pino(
      { base: { part, kind: 'access', ...fields }, timestamp: pino.stdTimeFunctions.isoTime },
      this.dest,
    );
  }

  /** Cheap test before an entry is built; `always`: a success logged in mode `all` whatever the sample. */
  wants(status: number, always = false): boolean {
    if (this.logger === undefined) return false;
    if (status >= 400) return true;
    return this.all && (always || this.sample >= 1 || Math.random() < this.sample);
  }

  write(entry: AccessEntry): void {
    this.logger?.info(entry);
  }

  flush(): void {
    try {
      this.dest?.flushSync();
    } catch {
      // nothing buffered, or stdout is gone: nothing to save
    }
  }
}

export function parseAccessLog(mode: string | undefined, sample: string | undefined): AccessLogOptions {
  const m = mode ?? DEFAULT_ACCESS_LOG.mode;
  if (m !== 'all' && m !== 'errors' && m !== 'off')
    throw new UsageError(`--access-log: "${m}" is not a mode (expected all, errors or off)`);
  let s = DEFAULT_ACCESS_LOG.sample;
  if (sample !== undefined) {
    s = Number(sample);
    if (!/^\d*\.?\d+$/.test(sample) || s > 1)
      throw new UsageError(`--access-log-sample: "${sample}" is not a fraction (expected 0..1, e.g. 0.01)`);
  }
  return { mode: m, sample: s };
}
