/**
 * 200 connections stream through one proxy while toxics are added and removed: every API call
 * answers in < 100 ms, and no byte is lost or reordered (only non-lossy toxics are used).
 */
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { Toxiproxy } from 'toxiproxy-node-client';
import { afterAll, beforeAll, expect, it } from 'vitest';

// The link server runs as its own process (as `ezctl up` will run it), and so do the 200 clients
// with their echo server: the API timings are the link server's, not this process's load.
let proc: ResultPromise | undefined;
let url: string;

/** A child process's stdout as JSON lines, one at a time. */
function jsonLines(child: ResultPromise): () => Promise<Record<string, unknown>> {
  const queue: Record<string, unknown>[] = [];
  const waiting: ((v: Record<string, unknown>) => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (!line.startsWith('{')) return;
    const v = JSON.parse(line) as Record<string, unknown>;
    const w = waiting.shift();
    if (w) w(v);
    else queue.push(v);
  });
  return () => {
    const v = queue.shift();
    return v ? Promise.resolve(v) : new Promise((resolve) => waiting.push(resolve));
  };
}

beforeAll(async () => {
  const main = fileURLToPath(new URL('../../src/links/main.ts', import.meta.url));
  proc = execa(process.execPath, ['--import', 'tsx', main, '--port', '0', '--seed', '9'], {
    env: { EZ_LOG_LEVEL: 'info' },
    reject: false,
  });
  const lines = createInterface({ input: proc.stdout! });
  url = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      const m = /"msg":"link server listening"/.test(line)
        ? /"host":"([^"]+)","port":(\d+)/.exec(line)
        : null;
      if (m) resolve(`http://${m[1]}:${m[2]}`);
    });
    proc!.then((r) => reject(new Error(`link server exited: ${r.stderr}`)));
  });
});
afterAll(async () => {
  proc?.kill('SIGTERM');
  await proc;
});

const CONNECTIONS = 200;

it('200 streaming connections, toxics added and removed: API < 100 ms, bytes exact and in order', async () => {
  // the echo server and the 200 clients run in their own process (test/helpers/link-load.ts):
  // this process only makes the API calls and times them
  const loader = execa(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('../helpers/link-load.ts', import.meta.url))],
    { reject: false, stdin: 'pipe' },
  );
  try {
    const next = jsonLines(loader);
    const { echo } = (await next()) as { echo: string };
    const client = new Toxiproxy(url);
    await client.getAll(); // warm the client up (first fetch compiles undici paths)
    const p = await client.createProxy({ name: 'load', listen: '127.0.0.1:0', upstream: echo });
    loader.stdin!.write(
      `${JSON.stringify({ listen: p.listen, connections: CONNECTIONS, writes: 48, writeSize: 4 * 1024 })}\n`,
    );
    expect(await next()).toEqual({ dialed: CONNECTIONS });
    const apiTimes: { call: string; ms: number }[] = [];
    const timed = async <T>(call: string, fn: () => Promise<T>): Promise<T> => {
      const t0 = performance.now();
      const r = await fn();
      apiTimes.push({ call, ms: performance.now() - t0 });
      return r;
    };

    let streaming = true;
    const done = next().finally(() => {
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
        p.addToxic({
          name,
          type: k.type as 'latency',
          stream,
          toxicity: 1,
          attributes: k.attributes as never,
        }),
      );
      await new Promise((r) => setTimeout(r, 20));
      await timed('getAll', () => client.getAll());
      await timed('getToxic', () => p.getToxic(name));
      await timed('removeToxic', () => toxic.remove());
      round++;
    }
    expect(await done).toEqual({ ok: CONNECTIONS, bad: 0 });
    expect(round).toBeGreaterThan(5);
    const worst = apiTimes.reduce((a, b) => (b.ms > a.ms ? b : a));
    console.log(
      `${apiTimes.length} API calls during ${round} toxic rounds; slowest ${worst.call} ${worst.ms.toFixed(1)} ms`,
    );
    expect(worst.ms).toBeLessThan(100);
    await p.remove();
  } finally {
    loader.kill('SIGKILL');
    await loader;
  }
});
