/**
 * API errors, shaped like Toxiproxy's: HTTP status plus a JSON body `{"error": "...", "status": N}`.
 * Messages start with Toxiproxy's own wording ("proxy not found", "bad request body: ...") and add
 * what was wrong and what is expected.
 */
import { type HostPort, splitHostPort } from '../util/parse.js';
export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

export const badBody = (what: string): ApiError => new ApiError(400, `bad request body: ${what}`);
export const missingField = (what: string): ApiError => new ApiError(400, `missing required field: ${what}`);
export const proxyNotFound = (name: string): ApiError =>
  new ApiError(404, `proxy not found: ${JSON.stringify(name)}`);
export const toxicNotFound = (name: string): ApiError =>
  new ApiError(404, `toxic not found: ${JSON.stringify(name)}`);
export const proxyExists = (name: string): ApiError =>
  new ApiError(409, `proxy already exists: ${JSON.stringify(name)}`);
export const toxicExists = (name: string): ApiError =>
  new ApiError(409, `toxic already exists: ${JSON.stringify(name)}`);

/** Proxy and toxic names: Toxiproxy takes any string; we take what a URL path segment carries plainly. */
export const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.:>@+=-]{0,127}$/;

export function checkName(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0) throw missingField(field);
  if (!NAME_RE.test(value)) {
    throw new ApiError(
      400,
      `bad ${field} ${JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value)}: expected 1-128 of [A-Za-z0-9_.:>@+=-], starting with a letter, digit or _`,
    );
  }
  return value;
}

export type { HostPort } from '../util/parse.js';
export { joinHostPort } from '../util/parse.js';

/**
 * `host:port`, `[v6]:port` or `:port` (all interfaces) for the API: the shared parser
 * (src/util/parse.ts), its problem as a 400. `minPort` is 0 for a listen address (0 = any free
 * port) and 1 for an upstream.
 */
export function parseHostPort(value: unknown, field: string, minPort: 0 | 1): HostPort {
  if (typeof value !== 'string' || value.length === 0) throw missingField(field);
  const r = splitHostPort(value, { minPort, allowEmptyHost: minPort === 0 });
  if ('problem' in r)
    throw new ApiError(
      400,
      `bad ${field} ${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)}: ${r.problem}`,
    );
  return r;
}
