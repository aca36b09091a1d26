/**
 * The parsers every flag, env variable and file field shares: durations, host:port, integers. One
 * place, one meaning: a bare number in a duration is **milliseconds** everywhere (CLI flags, part
 * flags, topology and drill files, link faults); bad input is a UsageError naming what was wrong.
 */
import { UsageError } from './errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The largest delay a Node timer takes (2^31 - 1 ms, ~24.8 days); beyond it setTimeout fires at once. */
export const MAX_TIMER_MS = 2_147_483_647;

export interface DurationBounds {
  /** smallest value accepted, ms (default 1: a duration of 0 is refused) */
  min?: number;
  /** largest value accepted, ms (default MAX_TIMER_MS) */
  max?: number;
}

/** `250ms`, `1s`, `1.5s`, `2m`, `1h`, `30d`; a bare number is milliseconds. Returns whole milliseconds. */
export function parseDuration(text: string | number, what = 'duration', bounds: DurationBounds = {}): number {
  const min = bounds.min ?? 1;
  const max = bounds.max ?? MAX_TIMER_MS;
  let ms: number;
  if (typeof text === 'number') {
    ms = text;
  } else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text);
    if (!m)
      throw new UsageError(
        `${what}: ${JSON.stringify(text)} is not a duration (expected e.g. 500ms, 1.5s, 2m; a bare number is milliseconds)`,
      );
    ms = Number(m[1]) * UNITS[(m[2] ?? 'ms').toLowerCase()];
  }
  if (!Number.isFinite(ms)) throw new UsageError(`${what}: ${JSON.stringify(text)} is not a duration`);
  if (Math.abs(ms - Math.round(ms)) > 1e-6)
    throw new UsageError(`${what}: ${JSON.stringify(text)}: expected whole milliseconds`);
  const rounded = Math.round(ms);
  if (rounded < min || rounded > max)
    throw new UsageError(
      `${what}: ${JSON.stringify(text)} is out of range (expected ${formatMs(min)} to ${formatMs(max)})`,
    );
  return rounded;
}

/** A duration as a person reads it: `750 ms`, `1.5 s`, `2 min`, `24.9 days`. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${trim(ms / 1000)} s`;
  if (ms < 3_600_000) return `${trim(ms / 60_000)} min`;
  if (ms < 86_400_000) return `${trim(ms / 3_600_000)} h`;
  return `${trim(ms / 86_400_000)} days`;
}
const trim = (x: number): string => String(Math.round(x * 10) / 10);

export interface HostPort {
  host: string;
  port: number;
}

const HOST_RE =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV6_RE = /^[0-9A-Fa-f:.]+$/;

/**
 * `host:port`, `[v6]:port`, or `:port` when `allowEmptyHost` (all interfaces), as Go's
 * net.Listen/Dial take them: the address, or why it is not one (the caller picks the error type:
 * a UsageError for flags, a 400 for the link server's API).
 */
export function splitHostPort(
  value: string,
  opts: { minPort?: 0 | 1; allowEmptyHost?: boolean } = {},
): HostPort | { problem: string } {
  const minPort = opts.minPort ?? 1;
  let host: string;
  let portText: string;
  if (value.startsWith('[')) {
    const end = value.indexOf(']:');
    if (end < 0) return { problem: 'expected [ipv6]:port' };
    host = value.slice(1, end);
    portText = value.slice(end + 2);
    if (!IPV6_RE.test(host) || !host.includes(':')) return { problem: 'expected an IPv6 address inside [ ]' };
  } else {
    const colon = value.lastIndexOf(':');
    if (colon < 0) return { problem: 'expected host:port' };
    host = value.slice(0, colon);
    portText = value.slice(colon + 1);
    if (host.includes(':')) return { problem: 'an IPv6 host needs brackets: [::1]:port' };
    if (host !== '' && (host.length > 253 || !HOST_RE.test(host)))
      return { problem: 'expected a host name or IP address' };
  }
  if (!/^\d{1,5}$/.test(portText)) return { problem: `expected a port ${minPort}..65535 after the colon` };
  const port = Number(portText);
  if (port < minPort || port > 65535) return { problem: `expected a port ${minPort}..65535` };
  if (host === '' && !opts.allowEmptyHost) return { problem: 'expected a host before the colon' };
  return { host, port };
}

/** `127.0.0.1:27200`, `db.example:3306`, `[::1]:27200` → { host, port }; a UsageError naming `what`. */
export function parseHostPort(text: string, what = 'address'): HostPort {
  const r = splitHostPort(text.trim());
  if ('problem' in r)
    throw new UsageError(
      `${what}: ${JSON.stringify(text)} is not HOST:PORT (${r.problem}; e.g. 127.0.0.1:27200)`,
    );
  return r;
}

/** `host:port` for display; IPv6 in brackets, like Go's net.JoinHostPort. */
export const joinHostPort = (host: string, port: number): string =>
  host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;

/** A decimal integer in [min, max], else a UsageError naming `what`. */
export function parseInteger(text: string, what: string, min: number, max: number): number {
  if (!/^\s*\d+\s*$/.test(text) || Number(text) < min || Number(text) > max)
    throw new UsageError(`${what}: expected an integer ${min}..${max}, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** An http(s) base URL without a trailing slash; `host:port` alone means http. */
export function parseBaseUrl(text: string, what = 'URL'): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new UsageError(`${what}: ${JSON.stringify(text)} is not a URL (e.g. http://127.0.0.1:27100)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new UsageError(`${what}: ${JSON.stringify(text)}: expected an http:// or https:// URL`);
  if (u.pathname !== '/' || u.search || u.hash)
    throw new UsageError(`${what}: ${JSON.stringify(text)}: expected a base URL without a path`);
  return `${u.protocol}//${u.host}`;
}

export const formatHostPort = (a: HostPort): string => joinHostPort(a.host, a.port);
