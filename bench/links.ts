/**
 * Throughput through a link-server proxy with no toxic vs a direct connection, same payload, side
 * by side. The link server runs as its own process (as in a deployment); the sender and the sink
 * run here. Prints one JSON line: {"proxiedMBps":…,"directMBps":…,"ratio":…}.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type Server } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Toxiproxy } from 'toxiproxy-node-client';

const PAYLOAD = 256 * 1024 * 1024;
const ROUNDS = 3;
const chunk = Buffer.alloc(256 * 1024, 0x5a);

/** A sink that counts bytes and answers one byte once it has the whole payload. */
async function startSink(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => {
    let got = 0;
    s.on('data', (b: Buffer) => {
      got += b.length;
      if (got >= PAYLOAD) s.end('k');
    });
    s.on('error', () => s.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
}

/** MB/s (10^6 bytes) to push PAYLOAD bytes to `port` and get the sink's acknowledgement. */
async function send(port: number): Promise<number> {
  const s = connect({ host: '127.0.0.1', port });
  await once(s, 'connect');
  const t0 = performance.now();
  const done = once(s, 'data');
  let sent = 0;
  while (sent < PAYLOAD) {
    sent += chunk.length;
    if (!s.write(chunk)) await once(s, 'drain');
  }
  await done;
  const seconds = (performance.now() - t0) / 1000;
  s.destroy();
  return PAYLOAD / 1e6 / seconds;
}

async function startLinkServer(): Promise<{ url: string; stop: () => void }> {
  const main = fileURLToPath(new URL('../src/links/main.js', import.meta.url));
  const child = spawn(process.execPath, [main, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, EZ_LOG_LEVEL: 'info' },
  });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      const m = /"url":"([^"]+)","msg":"ready"/.exec(line);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`link server exited with ${code}`)));
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const sink = await startSink();
const links = await startLinkServer();
try {
  const client = new Toxiproxy(links.url);
  const proxy = await client.createProxy({
    name: 'bench',
    listen: '127.0.0.1:0',
    upstream: `127.0.0.1:${sink.port}`,
  });
  const proxyPort = Number(proxy.listen.split(':').pop());
  const direct: number[] = [];
  const proxied: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    direct.push(await send(sink.port));
    proxied.push(await send(proxyPort));
  }
  const directMBps = Number(median(direct).toFixed(1));
  const proxiedMBps = Number(median(proxied).toFixed(1));
  console.log(
    JSON.stringify({ proxiedMBps, directMBps, ratio: Number((proxiedMBps / directMBps).toFixed(3)) }),
  );
} finally {
  links.stop();
  sink.server.close();
}
