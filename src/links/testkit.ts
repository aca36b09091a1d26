// Test helpers for links: echo servers, dialing, timed round trips.
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * Small real TCP peers for exercising links (tests, bench, drills): an echo server that can greet
 * first like MySQL does, and round-trip timing over a live connection.
 */
export interface EchoServer {
  server: Server;
  port: number;
  address: string;
  sockets: Set<Socket>;
  close(): Promise<void>;
}

export async function startEcho(opts: { greeting?: string } = {}): Promise<EchoServer> {
  const sockets = new Set<Socket>();
  const server = createServer({ noDelay: true, allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    if (opts.greeting) s.write(opts.greeting);
    s.pipe(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    address: `127.0.0.1:${port}`,
    sockets,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
}

export async function dial(address: string): Promise<Socket> {
  const { host, port } = splitAddress(address);
  const s = connect({ host, port, noDelay: true });
  await once(s, 'connect');
  return s;
}

/** Read exactly `n` bytes from a socket. */
export function readBytes(s: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onData = (b: Buffer) => {
      parts.push(b);
      got += b.length;
      if (got >= n) {
        cleanup();
        const all = Buffer.concat(parts);
        if (all.length > n) s.unshift(all.subarray(n));
        resolve(all.subarray(0, n));
      }
    };
    const onEnd = () => {
      cleanup();
      reject(new Error(`connection ended after ${got} of ${n} bytes`));
    };
    const cleanup = () => {
      s.off('data', onData);
      s.off('end', onEnd);
      s.off('error', onEnd);
    };
    s.on('data', onData);
    s.on('end', onEnd);
    s.on('error', onEnd);
  });
}

/** `count` request/response round trips (1 byte echoed) on one connection; each in ms. */
export async function roundTrips(s: Socket, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    s.write('x');
    await readBytes(s, 1);
    out.push(performance.now() - t0);
  }
  return out;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
