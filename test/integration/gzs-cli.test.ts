/**
 * `ezctl gzs …` and `ezctl route --gzs` through the BUILT CLI against a real GZS process, and the
 * `gzs` launcher kind (start, ready on /healthz, the topology's port by default, clean stop).
 * Needs the build (`npx tsc -p .`; npm test builds first).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GzsProcess, startGzsProcess } from '../../src/gzs/testkit.js';
import { planContext } from '../../src/launch/cluster.js';
import { hostFor } from '../../src/launch/host.js';
import { startInstance } from '../../src/launch/instance.js';
import { gzs as gzsKind } from '../../src/launch/kinds/gzs.js';
import { loadTopology } from '../../src/topology/index.js';
import { projectRoot } from '../../src/util/paths.js';
import { tempDir } from '../helpers/run-dir.js';
import { writeFreePortTopology } from '../helpers/services.js';

const TOKEN = 'cli-test-token';
const ORDER = '7290412234567680001';
let dir: string;
let gzs: GzsProcess;

const ezctl = (args: string[], env: Record<string, string> = {}) =>
  execa(process.execPath, [join(projectRoot(), 'bin/run.js'), ...args], {
    cwd: projectRoot(),
    reject: false,
    env: {
      NODE_NO_WARNINGS: '1',
      NODE_ENV: 'production',
      EZCTL_TOPOLOGY: '',
      EZ_GZS_URL: gzs.url,
      EZ_GZS_TOKEN: TOKEN,
      ...env,
    },
  });
const json = async (args: string[], env?: Record<string, string>) => {
  const r = await ezctl([...args, '--json'], env);
  return { exitCode: r.exitCode, stderr: r.stderr, body: JSON.parse(r.stdout) };
};

beforeAll(async () => {
  dir = tempDir('gzs-cli');
  gzs = await startGzsProcess({
    store: `file:${join(dir, 'table.json')}`,
    logFile: join(dir, 'gzs.log'),
    token: TOKEN,
  });
});

afterAll(async () => {
  await gzs?.stop();
});

describe('ezctl gzs', () => {
  it('shows the table, as text and as JSON', async () => {
    const text = await ezctl(['gzs', 'table']);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toMatch(/^epoch 1 {2}\(GZS http:\/\/127\.0\.0\.1:\d+\)$/m);
    expect(text.stdout).toMatch(/^ {2}ez-bj +active +21 shards: 0, 7, 10-24, 38-41$/m);
    expect(text.stdout).toMatch(/^locked shards {2}none$/m);
    const j = await json(['gzs', 'table']);
    expect(j.body).toMatchObject({ url: gzs.url, epoch: 1, table: { epoch: 1, globalMaster: 'ez-bj' } });
  });

  it('makes each change and prints the new epoch; --json returns the change result', async () => {
    const lock = await ezctl(['gzs', 'lock', '17', '--reason', 'move to ez-sh']);
    expect([lock.exitCode, lock.stdout]).toEqual([0, 'epoch 2: lock shard 17 (move to ez-sh)']);
    const owner = await json(['gzs', 'owner', '17', 'ez-sh', '--if-epoch', '2']);
    expect(owner.exitCode).toBe(0);
    expect(owner.body).toMatchObject({
      epoch: 3,
      changes: [{ op: 'owner', shard: 17, zone: 'ez-sh', from: 'ez-bj' }],
    });
    expect((await ezctl(['gzs', 'unlock', '17'])).stdout).toBe('epoch 4: unlock shard 17');
    expect((await ezctl(['gzs', 'zone', 'ez-bj', 'down'])).stdout).toBe(
      'epoch 5: eZone ez-bj active -> down',
    );
    expect((await ezctl(['gzs', 'zone', 'ez-bj', 'active'])).stdout).toBe(
      'epoch 6: eZone ez-bj down -> active',
    );
    expect((await ezctl(['gzs', 'order-lock', ORDER, '--reason', 'failover'])).stdout).toBe(
      `epoch 7: lock order ${ORDER} (failover)`,
    );
    expect((await ezctl(['gzs', 'order-unlock', ORDER])).stdout).toBe(`epoch 8: unlock order ${ORDER}`);
    const history = await json(['gzs', 'history', '--since', '6']);
    expect(history.body.entries.map((e: { epoch: number; actor: string }) => [e.epoch, e.actor])).toEqual([
      [7, expect.stringMatching(/^ezctl\//)],
      [8, expect.stringMatching(/^ezctl\//)],
    ]);
  });

  it("routes with the table GZS serves (route --gzs), not the topology's epoch 1", async () => {
    const viaGzs = await json(['route', '--tag', 'shard=17', '--gzs', gzs.url]);
    expect(viaGzs.body).toMatchObject({ shard: 17, zone: 'ez-sh', epoch: 8 });
    const offline = await json(['route', '--tag', 'shard=17']);
    expect(offline.body).toMatchObject({ shard: 17, zone: 'ez-bj', epoch: 1 });
  });

  it('exits 2 for bad input, 1 for refusals, with one line (or a JSON error) and no stack', async () => {
    const cases: [string[], number, RegExp, Record<string, string>?][] = [
      [
        ['gzs', 'lock', '5000'],
        2,
        /^ezctl: shard "5000": expected a shard id \(integer 0\.\.1023 in canonical decimal, e\.g\. 7 not 007\)$/,
      ],
      [
        ['gzs', 'owner', '1', 'ez-zz'],
        2,
        /^ezctl: GZS http:\/\/\S+: eZone "ez-zz" is not in the routing table/,
      ],
      [['gzs', 'order-unlock', ORDER], 2, /order \d+ is not locked$/],
      [
        ['gzs', 'order-lock', '12x'],
        2,
        /"12x" is not a decimal order id \(expected digits only, e\.g\. 7290412234567680001\)$/,
      ],
      [['gzs', 'zone', 'ez-bj', 'sideways'], 2, /Expected sideways to be one of: active, down/],
      [['gzs', 'lock', '1', '--if-epoch', '2'], 1, /ifEpoch 2 is stale: the table is at epoch 8/],
      [
        ['gzs', 'lock', '1'],
        1,
        /^ezctl: GZS http:\/\/\S+: bad token for the change API$/,
        { EZ_GZS_TOKEN: 'wrong' },
      ],
      [
        ['gzs', 'table', '--gzs', 'http://127.0.0.1:1'],
        1,
        /^ezctl: cannot reach GZS: http:\/\/127\.0\.0\.1:1: ECONNREFUSED/,
      ],
    ];
    for (const [args, code, message, env] of cases) {
      const r = await ezctl(args, env);
      expect(r.exitCode, args.join(' ')).toBe(code);
      expect(r.stderr.trim(), args.join(' ')).toMatch(message);
      expect(r.stderr, args.join(' ')).not.toMatch(/\bat .*\.js:\d+/);
    }
    const stale = await json(['gzs', 'unlock', '1', '--if-epoch', '3']);
    expect(stale.exitCode).toBe(1);
    expect(stale.body.error).toMatchObject({ code: 'EZ_STALE_EPOCH' });
    expect((await json(['gzs', 'table'])).body.epoch).toBe(8); // nothing was applied
  });

  it('reports acknowledgements, exiting 1 while a live holder lags', async () => {
    // once past the warm-up (one lease, 3 s, after GZS started), nobody lags
    await expect.poll(async () => (await json(['gzs', 'acks'])).exitCode, { timeout: 5000 }).toBe(0);
    expect((await json(['gzs', 'acks'])).body).toMatchObject({ epoch: 8, allAcked: true, live: 0 });
    await fetch(`${gzs.url}/acks`, {
      method: 'POST',
      body: JSON.stringify({ holder: { id: 'lagging', kind: 'dal', zone: 'ez-sh' }, epoch: 7 }),
    });
    const lag = await ezctl(['gzs', 'acks']);
    expect(lag.exitCode).toBe(1);
    expect(lag.stdout).toMatch(/^epoch 8: 0\/1 live holder\(s\) acknowledged; waiting for lagging$/m);
    // the lagging holder stops reporting: once its lease ran out it no longer blocks (--wait)
    const waited = await ezctl(['gzs', 'acks', '--wait', '5s']);
    expect(waited.exitCode).toBe(0);
  });
});

describe('gzs launcher kind', () => {
  it('starts GZS on the topology port with its table file, answers the CLI, stops cleanly', async () => {
    const kdir = tempDir('gzs-kind');
    const file = await writeFreePortTopology(kdir);
    const topology = loadTopology(file);
    const [spec] = gzsKind.instances(planContext(topology, join(kdir, 'state')));
    expect(spec).toMatchObject({ name: 'gzs', port: topology.deployment.gzs.port });
    expect(spec.params.store).toBe(`file:${join(spec.dataDir, 'table.json')}`);
    const host = hostFor('local');
    const started = await startInstance(gzsKind, spec, host);
    try {
      expect(await gzsKind.ready(spec, host)).toBe(true);
      // no --gzs: the CLI finds GZS through the topology's deployment.gzs
      const r = await ezctl(['gzs', 'table', '--json', '--topology', file], { EZ_GZS_URL: '' });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ url: `http://127.0.0.1:${spec.port}`, epoch: 1 });
      const doc = JSON.parse(readFileSync(join(spec.dataDir, 'table.json'), 'utf8'));
      expect(doc.table.epoch).toBe(1);
    } finally {
      await gzsKind.stop(spec, host, started.pid, started.startToken);
    }
    expect(await host.isAlive(started.pid, started.startToken)).toBe(false);
    const last = readFileSync(spec.logFile, 'utf8').trim().split('\n').at(-1)!;
    expect(JSON.parse(last)).toMatchObject({ msg: 'stopped' });
  });
});
