/**
 * The streaming side of test/integration/links-load.test.ts, as its own process: an echo server
 * and N client connections through a proxy, each writing a known pattern and checking every byte
 * comes back in order. Kept out of the test's process so the API timings the test takes are not
 * inflated by this load sharing its event loop.
 *
 * Protocol (stdout/stdin, one JSON line each): prints {"echo":"host:port"}; reads
 * {"listen":"host:port","connections":N,"writes":W,"writeSize":B}; prints {"dialed":N} once every
 * connection is up, then {"ok":K,"bad":M} when all streams ended, and exits.
 */
import { createInterface } from 'node:readline';
import { dial, readBytes, startEcho } from '../../src/links/testkit.js';

function pattern(conn: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < b.length; i += 4) b.writeUInt32LE((conn * 0x9e3779b1 + i) >>> 0, i);
  return b;
}

const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

const echo = await startEcho();
say({ echo: echo.address });
const lines = createInterface({ input: process.stdin });
const first = await new Promise<string>((resolve) => lines.once('line', resolve));
const { listen, connections, writes, writeSize } = JSON.parse(first) as {
  listen: string;
  connections: number;
  writes: number;
  writeSize: number;
};
const sockets = await Promise.all(Array.from({ length: connections }, () => dial(listen)));
say({ dialed: sockets.length });
const results = await Promise.all(
  sockets.map(async (s, i) => {
    const data = pattern(i, writes * writeSize);
    const back = readBytes(s, data.length);
    for (let w = 0; w < writes; w++) {
      s.write(data.subarray(w * writeSize, (w + 1) * writeSize));
      await new Promise((r) => setTimeout(r, 15 + (i % 7)));
    }
    return (await back).equals(data);
  }),
);
for (const s of sockets) s.destroy();
say({ ok: results.filter(Boolean).length, bad: results.filter((x) => !x).length });
lines.close();
await echo.close();
