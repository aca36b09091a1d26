/**
 * 200 connections stream through one proxy while toxics are added and removed: every API call
 * answers in < 100 ms, and no byte is lost or reordered (only non-lossy toxics are used).
 */
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { Toxiproxy } from 'toxiproxy-node-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { dial, type EchoServer, readBytes, startEcho } from '../../harness/links/testkit.js';

// The link server runs as its own process (as `ezctl up` will run it): its event loop is not
// shared with the 200 clients and the echo server of this test.
let proc: ResultPromise | undefined;
let url: string;
let echo: EchoServer;

beforeAll(async () => {
  const main = fileURLToPath(new URL('../../harness/links/main.ts', import.meta.url));
  proc = execa(process.execPath, ['--import', 'tsx', main, '--port', '0', '--seed', '9'], {
    env: { EZ_LOG_LEVEL: 'info' },
    reject: false,
  });
  const lines = createInterface({ input: proc.stdout! });
  url = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      const m = /"url":"([^"]+)","msg":"ready"/.exec(line);
      if (m) resolve(m[1]);
    });
    proc!.then((r) => reject(new Error(`link server exited: ${r.stderr}`)));
  });
  echo = await startEcho();
});
afterAll(async () => {
  proc?.kill('SIGTERM');
  await proc;
  await echo?.close();
});

const CONNECTIONS = 200;
const WRITES = 48;
const WRITE_SIZE = 4 * 1024;

function pattern(conn: number): Buffer {
  const b = Buffer.alloc(WRITES * WRITE_SIZE);
  for (let i = 0; i < b.length; i += 4) b.writeUInt32LE((conn * 0x9e3779b1 + i) >>> 0, i);
  return b;
}

it('200 streaming connections, toxics added and removed: API < 100 ms, bytes exact and in order', async () => {
  const client = new Toxiproxy(url);
  await client.getAll(); // warm the client up (first fetch compiles undici paths)
  const p = await client.createProxy({ name: 'load', listen: '127.0.0.1:0', upstream: echo.address });
  const sockets = await Promise.all(Array.from({ length: CONNECTIONS }, () => dial(p.listen)));
  const apiTimes: { call: string; ms: number }[] = [];
  const timed = async <T>(call: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const r = await fn();
    apiTimes.push({ call, ms: performance.now() - t0 });
    return r;
  };

  let streaming = true;
  const streams = sockets.map(async (s, i) => {
    const data = pattern(i);
    const back = readBytes(s, data.length);
    for (let w = 0; w < WRITES; w++) {
      s.write(data.subarray(w * WRITE_SIZE, (w + 1) * WRITE_SIZE));
      await new Promise((r) => setTimeout(r, 15 + (i % 7)));
    }
    return (await back).equals(data);
  });
  const all = Promise.all(streams).finally(() => {
    streaming = false;
  });

  const kinds = [
    { type: 'latency', attributes: { latency: 3, jitter: 2 } },
    { type: 'bandwidth', attributes: { rate: 20_000 } },
    { type: 'slicer', attributes: { average_size: 700, size_variation: 200, delay: 50 } },
    { type: 'noop', attributes: {} },
    { type: 'stall', attributes: {} },
    { type: 'slow_close', attributes: { delay: 10 } },
  ];
  let round = 0;
  while (streaming) {
    const k = kinds[round % kinds.length];
    const stream = round % 2 ? 'upstream' : 'downstream';
    const name = `t${round}`;
    const toxic = await timed('addToxic', () =>
      p.addToxic({ name, type: k.type as 'latency', stream, toxicity: 1, attributes: k.attributes as never }),
    );
    await new Promise((r) => setTimeout(r, 20));
    await timed('getAll', () => client.getAll());
    await timed('getToxic', () => p.getToxic(name));
    await timed('removeToxic', () => toxic.remove());
    round++;
  }
  const ok = await all;
  expect(ok.filter((x) => !x).length).toBe(0);
  expect(round).toBeGreaterThan(5);
  const worst = apiTimes.reduce((a, b) => (b.ms > a.ms ? b : a));
  console.log(
    `${apiTimes.length} API calls during ${round} toxic rounds; slowest ${worst.call} ${worst.ms.toFixed(1)} ms`,
  );
  expect(worst.ms).toBeLessThan(100);
  for (const s of sockets) s.destroy();
  await p.remove();
});
