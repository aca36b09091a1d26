/**
 * Acknowledgements with leases (DESIGN §6 step 1) against a real GZS process: holders in other
 * processes report their epoch; a frozen or killed holder blocks "all acknowledged" only until its
 * lease runs out; a clean close stops blocking at once; HTTP heartbeats count like push ones.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GzsApi } from '../../src/gzs/api.js';
import { type GzsProcess, startGzsProcess } from '../../src/gzs/testkit.js';
import { RoutingClient } from '../../src/sdk/client.js';
import { loadTopology } from '../../src/topology/index.js';
import { projectRoot } from '../../src/util/paths.js';
import { tempDir } from '../helpers/run-dir.js';

const LEASE_MS = 1500;
let dir: string;
let gzs: GzsProcess;
let api: GzsApi;
const children: ChildProcess[] = [];

/** A holder in its own process: an SDK client that prints "ready <epoch>" once it holds a table. */
function holderProcess(id: string): Promise<ChildProcess> {
  const script = join(dir, `${id}.mjs`);
  writeFileSync(
    script,
    `import { RoutingClient } from ${JSON.stringify(join(projectRoot(), 'dist/src/sdk/client.js'))};
import { loadTopology } from ${JSON.stringify(join(projectRoot(), 'dist/src/topology/index.js'))};
const c = await RoutingClient.start({ gzs: [${JSON.stringify(gzs.url)}], topology: loadTopology(), holder: { id: ${JSON.stringify(id)}, kind: 'dal', zone: 'ez-bj' } });
process.stdout.write('ready ' + c.epoch + '\\n');
setInterval(() => {}, 1000);
`,
  );
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      if (String(d).startsWith('ready')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`holder ${id} exited (${code})`)));
  });
}

beforeAll(async () => {
  dir = tempDir('gzs-acks');
  gzs = await startGzsProcess({
    store: `file:${join(dir, 'table.json')}`,
    logFile: join(dir, 'gzs.log'),
    leaseMs: LEASE_MS,
    heartbeatMs: 300,
  });
  api = new GzsApi(gzs.url, { token: gzs.token });
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await gzs?.stop();
});

describe('acknowledgements with leases', () => {
  it('does not answer "all acknowledged" before one lease has passed since GZS started', async () => {
    const fresh = await startGzsProcess({
      store: `file:${join(dir, 'fresh.json')}`,
      logFile: join(dir, 'fresh.log'),
      leaseMs: 3000,
    });
    try {
      const r = await new GzsApi(fresh.url).acks();
      expect(r).toMatchObject({ allAcked: false, warmingUp: true });
    } finally {
      await fresh.stop();
    }
  });

  it('blocks on a frozen holder until its lease expires, then no longer', async () => {
    const frozen = await holderProcess('frozen');
    const live = await RoutingClient.start({
      gzs: [gzs.url],
      topology: loadTopology(),
      holder: { id: 'live', kind: 'router', zone: null },
    });
    try {
      await expect.poll(async () => (await api.acks()).live, { timeout: 3000 }).toBe(2);
      frozen.kill('SIGSTOP'); // connection stays open, heartbeats stop
      const t0 = Date.now();
      const r = await api.lock(20);
      expect(await live.waitForEpoch(r.epoch, 2000)).toBe(true);
      const now = await api.acks(r.epoch);
      expect(now).toMatchObject({ allAcked: false, waitingFor: ['frozen'] });
      expect(now.holders.find((h) => h.id === 'live')).toMatchObject({ epoch: r.epoch, live: true });
      const later = await api.acks(r.epoch, 5000); // long poll: answers once the lease ran out
      const waited = Date.now() - t0;
      expect(later).toMatchObject({ allAcked: true, live: 1, acked: 1 });
      expect(later.holders.find((h) => h.id === 'frozen')).toMatchObject({ live: false, epoch: r.epoch - 1 });
      expect(waited).toBeLessThan(LEASE_MS + 1500);
    } finally {
      frozen.kill('SIGKILL');
      await live.close();
    }
  });

  it('blocks on a killed holder only until its lease expires; a clean close stops blocking at once', async () => {
    const doomed = await holderProcess('doomed');
    const polite = await RoutingClient.start({
      gzs: [gzs.url],
      topology: loadTopology(),
      holder: { id: 'polite', kind: 'soa', zone: 'ez-sh' },
    });
    await expect.poll(async () => (await api.acks()).live, { timeout: 3000 }).toBe(2);
    await polite.close(); // says goodbye
    expect((await api.acks()).holders.map((h) => h.id)).not.toContain('polite');
    doomed.kill('SIGKILL');
    const r = await api.unlock(20);
    expect((await api.acks(r.epoch)).waitingFor).toEqual(['doomed']);
    expect((await api.acks(r.epoch, 5000)).allAcked).toBe(true);
  });

  it('counts heartbeats sent over HTTP (POST /acks) like those on the push channel', async () => {
    const holder = { id: 'http-holder', kind: 'tool', zone: null };
    const e = (await api.table()).table.epoch;
    const post = (epoch: number) =>
      fetch(`${gzs.url}/acks`, { method: 'POST', body: JSON.stringify({ holder, epoch }) }).then(
        (r) => r.status,
      );
    expect(await post(e)).toBe(200);
    const r = await api.lock(21);
    expect((await api.acks(r.epoch)).waitingFor).toEqual(['http-holder']);
    expect(await post(r.epoch)).toBe(200);
    expect((await api.acks(r.epoch)).allAcked).toBe(true);
  });
});
