// The readiness probe of HTTP parts: GET /healthz over plain TCP through a Host.
import type { Host } from '../host.js';

/**
 * `GET /healthz` of a part over plain TCP through its Host (so it works for a remote host too):
 * the status code and body, or null when nothing answers. Every long-running part serves it
 * (DESIGN §8); kinds decide what counts as ready.
 */
export async function probeHealthz(
  host: Host,
  port: number,
  address?: string,
): Promise<{ status: number; body: string } | null> {
  const reply = await host.probeTcp(port, {
    address,
    // HTTP/1.0: the part closes the connection after the answer, so the probe reads it whole
    send: 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n',
    timeoutMs: 1000,
  });
  const m = reply ? /^HTTP\/1\.[01] (\d{3})/.exec(reply) : null;
  if (!reply || !m) return null;
  const at = reply.indexOf('\r\n\r\n');
  return { status: Number(m[1]), body: at >= 0 ? reply.slice(at + 4) : '' };
}

/** Ready when /healthz answers 200. */
export const healthzOk = async (host: Host, port: number, address?: string): Promise<boolean> =>
  (await probeHealthz(host, port, address))?.status === 200;
