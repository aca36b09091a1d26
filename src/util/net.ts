import { createServer, type Server } from 'node:net';

/** A TCP port nothing listens on right now (the kernel picks it: bind port 0, read it, close). */
export function freePort(): Promise<number> {
  return freePorts(1).then(([p]) => p);
}

/** `n` distinct free ports (all held open until every one is picked, so they differ). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((resolve, reject) => {
          const srv = createServer();
          srv.on('error', reject);
          srv.listen(0, '127.0.0.1', () => resolve(srv));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
