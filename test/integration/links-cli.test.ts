/**
 * The link server as a standalone process (`harness/links/main`) and `ezctl links …` against it:
 * /healthz, /metrics, list/fault/heal with --json, exit codes, clean SIGTERM; `ezctl links serve`.
 */
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinkSet } from '../../src/links/link-set.js';
import { type EchoServer, startEcho } from '../../src/links/testkit.js';
import { loadTopology } from '../../src/topology/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const main = `${root}src/links/main.ts`;
const ezctl = `${root}bin/run.js`; // the built CLI (npm test builds first)
let proc: ResultPromise | undefined;
let url: string;
let echo: EchoServer;

/** Start a process and wait for its "ready" log line; resolves with the URL it serves. */
function readyUrl(p: ResultPromise): Promise<string> {
  const lines = createInterface({ input: p.stdout! });
  return new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      // the server's own line says where it listens (the part runtime's "ready" line says it too)
      const m = /"msg":"link server listening"/.test(line)
        ? /"host":"([^"]+)","port":(\d+)/.exec(line)
        : null;
      if (m) resolve(`http://${m[1]}:${m[2]}`);
    });
    p.then((r) => reject(new Error(`exited ${r.exitCode}: ${r.stderr}`)));
  });
}

const run = (args: string[]) =>
  execa(process.execPath, [ezctl, 'links', ...args], {
    reject: false,
    env: { EZCTL_TOXIPROXY_URL: url, NODE_NO_WARNINGS: '1' },
  });

beforeAll(async () => {
  proc = execa(process.execPath, ['--import', 'tsx', main, '--port', '0', '--seed', '1'], { reject: false });
  url = await readyUrl(proc);
  echo = await startEcho();
  await LinkSet.create({
    toxiproxy: url,
    topology: loadTopology(),
    basePort: 0,
    addresses: { 'ez-bj': { mysql: echo.address }, 'ez-sh': { mysql: echo.address } },
  });
});
afterAll(async () => {
  proc?.kill('SIGKILL');
  await echo?.close();
});

describe('standalone link server', () => {
  it('serves /healthz and /metrics', async () => {
    const h = await fetch(`${url}/healthz`);
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({ ok: true, seed: 1, proxies: 2 });
    const m = await (await fetch(`${url}/metrics`)).text();
    expect(m).toMatch(/ezlinks_proxies\{state="enabled"[^}]*\} 2/);
    expect(m).toMatch(/process_cpu_seconds_total/);
  });

  it('ezctl links list / fault / heal with --json', async () => {
    const list = await run(['list', '--json']);
    expect(list.exitCode).toBe(0);
    const l = JSON.parse(list.stdout) as { url: string; links: { name: string; toxics: unknown[] }[] };
    expect(l.url).toBe(url);
    expect(l.links.map((x) => x.name)).toEqual(['ez-bj->ez-sh:mysql', 'ez-sh->ez-bj:mysql']);

    const slow = await run(['fault', 'ez-bj', 'ez-sh', 'slow', '30ms', '--json']);
    expect(slow.exitCode).toBe(0);
    expect(JSON.parse(slow.stdout)).toMatchObject({
      fault: 'slow 30ms',
      links: ['ez-bj->ez-sh:mysql', 'ez-sh->ez-bj:mysql'],
    });
    const text = await run(['list']);
    expect(text.stdout).toMatch(
      /ez-bj->ez-sh:mysql .*ez-slow-up=latency 15ms ↑, ez-slow-down=latency 15ms ↓/,
    );

    const heal = await run(['heal', '--json']);
    expect(heal.exitCode).toBe(0);
    const after = JSON.parse((await run(['list', '--json'])).stdout) as { links: { toxics: unknown[] }[] };
    expect(after.links.every((x) => x.toxics.length === 0)).toBe(true);
  });

  it('exit 2 for bad input, 1 when the server is unreachable, errors in one line', async () => {
    const bad = await run(['fault', 'ez-bj', 'ez-xx', 'slow', '30ms']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/ezctl: link fault: unknown eZone "ez-xx" \(known: ez-bj, ez-sh\)/);
    const grammar = await run(['fault', 'ez-bj', 'ez-sh', 'explode', '--json']);
    expect(grammar.exitCode).toBe(2);
    expect(JSON.parse(grammar.stdout)).toMatchObject({ error: { code: 'EZ_USAGE' } });
    const down = await run(['list', '--toxiproxy', 'http://127.0.0.1:1']);
    expect(down.exitCode).toBe(1);
    expect(down.stderr).toMatch(/cannot reach the link server at http:\/\/127\.0\.0\.1:1/);
  });

  it('stops cleanly on SIGTERM (exit 0)', async () => {
    proc!.kill('SIGTERM');
    const r = await proc!;
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/"msg":"stopped"/);
  });

  it('ezctl links serve runs the server in the foreground', async () => {
    const serve = execa(process.execPath, [ezctl, 'links', 'serve', '--port', '0', '--seed', '5'], {
      reject: false,
      env: { NODE_NO_WARNINGS: '1' },
    });
    try {
      const u = await readyUrl(serve);
      expect(await (await fetch(`${u}/version`)).json()).toMatchObject({ version: '2.12.0' });
      serve.kill('SIGTERM');
      expect((await serve).exitCode).toBe(0);
    } finally {
      serve.kill('SIGKILL');
    }
  });
});
