/**
 * API errors, shaped like Toxiproxy's: HTTP status plus a JSON body `{"error": "...", "status": N}`.
 * Messages start with Toxiproxy's own wording ("proxy not found", "bad request body: ...") and add
 * what was wrong and what is expected.
 */
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

export interface HostPort {
  host: string;
  port: number;
}

const HOST_RE =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV6_RE = /^[0-9A-Fa-f:.]+$/;

/**
 * `host:port`, `[v6]:port` or `:port` (all interfaces), as Go's net.Listen/Dial take them.
 * `minPort` is 0 for a listen address (0 = any free port) and 1 for an upstream.
 */
export function parseHostPort(value: unknown, field: string, minPort: 0 | 1): HostPort {
  if (typeof value !== 'string' || value.length === 0) throw missingField(field);
  const fail = (why: string): never => {
    throw new ApiError(
      400,
      `bad ${field} ${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)}: ${why}`,
    );
  };
  let host: string;
  let portText: string;
  if (value.startsWith('[')) {
    const end = value.indexOf(']:');
    if (end < 0) fail('expected [ipv6]:port');
    host = value.slice(1, end);
    portText = value.slice(end + 2);
    if (!IPV6_RE.test(host) || !host.includes(':')) fail('expected an IPv6 address inside [ ]');
  } else {
    const colon = value.lastIndexOf(':');
    if (colon < 0) fail('expected host:port');
    host = value.slice(0, colon);
    portText = value.slice(colon + 1);
    if (host.includes(':')) fail('an IPv6 host needs brackets: [::1]:port');
    if (host !== '' && (host.length > 253 || !HOST_RE.test(host))) fail('expected a host name or IP address');
  }
  if (!/^\d{1,5}$/.test(portText)) fail(`expected a port ${minPort}..65535 after the colon`);
  const port = Number(portText);
  if (port < minPort || port > 65535) fail(`expected a port ${minPort}..65535`);
  if (host === '' && minPort === 1) fail('expected a host before the colon');
  return { host, port };
}

/** `host:port` for display; IPv6 in brackets, like Go's net.JoinHostPort. */
export const joinHostPort = (host: string, port: number): string =>
  host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
