/**
 * Header names the gateway treats specially, lower-case. Hop-by-hop headers (RFC 9110 §7.6.1)
 * never cross a proxy; `expect` is answered by the gateway's front itself (100 Continue);
 * the X-Ez-* decision headers are always set by the proxy, never taken from the client (a client
 * must not be able to claim a shard, an epoch or to be a peer SOA Proxy).
 */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

export const H_ROUTE = 'x-ez-route';
export const H_ZONE = 'x-ez-zone';
export const H_SHARD = 'x-ez-shard';
export const H_EPOCH = 'x-ez-epoch';
/** set by a SOA Proxy on a call it forwards to the owner eZone's SOA Proxy: the caller's eZone */
export const H_VIA = 'x-ez-via';
/** SOA Proxies a call went through, e.g. `ez-bj>ez-sh` (response) */
export const H_SOA_PATH = 'x-ez-soa-path';

/** Request headers the gateway drops from what a client sent (it sets its own). */
export const DROP_REQUEST = new Set([...HOP_BY_HOP, H_ZONE, H_SHARD, H_EPOCH, H_VIA, H_SOA_PATH]);
/** Response headers the gateway drops from what an upstream answered (it sets its own). */
export const DROP_RESPONSE = new Set([...HOP_BY_HOP, H_ZONE, H_SHARD, H_EPOCH, H_SOA_PATH]);

/** Shard ids as strings, built once (0..1023): the hot path sets X-Ez-Shard on every request. */
export const SHARD_TEXT: readonly string[] = Array.from({ length: 1024 }, (_, i) => String(i));

/** `x-ez-shard: N\r\n` request/answer header lines, built once. */
export const SHARD_LINE: readonly string[] = SHARD_TEXT.map((s) => `${H_SHARD}: ${s}\r\n`);

/** Client headers the gateway appends to (X-Forwarded-For, Forwarded) or leaves alone if present (-Proto). */
export const H_XFF = 'x-forwarded-for';
export const H_XF_PROTO = 'x-forwarded-proto';
export const H_FORWARDED = 'forwarded';

/**
 * The client's address as a proxy names it: an IPv4 client of a dual-stack listener (`::ffff:10.1.2.3`)
 * as plain IPv4; `unknown` (RFC 7239 §6.3) when the socket has none (it closed at once).
 */
export function clientAddress(remote: string | undefined): string {
  if (remote === undefined || remote === '') return 'unknown';
  if (remote.length > 7 && remote.startsWith('::ffff:') && remote.includes('.')) return remote.slice(7);
  return remote;
}

/** The `for=` node of a Forwarded element: IPv6 in brackets and quotes (RFC 7239 §6). */
export function forwardedNode(addr: string): string {
  return addr.includes(':') ? `"[${addr}]"` : addr;
}

/**
 * The forwarding header lines for one request from `addr`: X-Forwarded-For and Forwarded appended to
 * what the client sent (`xff`, `forwarded`: its values joined, or undefined), X-Forwarded-Proto only
 * when the client sent none. The gateway speaks plain HTTP, so proto is always `http`.
 */
export function forwardLines(
  addr: string,
  xff: string | undefined,
  forwarded: string | undefined,
  hasProto: boolean,
): string {
  const element = `for=${forwardedNode(addr)};proto=http`;
  return (
    `${H_XFF}: ${xff === undefined ? addr : `${xff}, ${addr}`}\r\n` +
    (hasProto ? '' : `${H_XF_PROTO}: http\r\n`) +
    `${H_FORWARDED}: ${forwarded === undefined ? element : `${forwarded}, ${element}`}\r\n`
  );
}

/** Names the gateway must look at, by length: a header whose name has another length is passed on untouched. */
function lengths(names: Iterable<string>): Uint8Array {
  const out = new Uint8Array(64);
  for (const n of names) out[n.length] = 1;
  return out;
}
export const REQUEST_NAME_LENGTHS = lengths([
  ...DROP_REQUEST,
  H_ROUTE,
  'content-length',
  'cookie',
  'host',
  H_XFF,
  H_XF_PROTO,
  H_FORWARDED,
]);
export const RESPONSE_NAME_LENGTHS = lengths([...DROP_RESPONSE, 'content-length', 'date']);
