/**
 * `ezctl route` through the BUILT CLI (`node bin/run.js`): `npm test` builds first; alone, run
 * `npx tsc -p .` before `npx vitest run test/unit/route-cli.test.ts`.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeOrderId } from '../../src/routing/index.js';
import { loadTopology } from '../../src/topology/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const ezctl = (...args: string[]) =>
  execa(process.execPath, [`${root}bin/run.js`, 'route', ...args], {
    cwd: root,
    reject: false,
    // vitest sets NODE_ENV=test, which makes oclif look for TypeScript sources and warn: run as users do
    env: { NODE_NO_WARNINGS: '1', EZCTL_TOPOLOGY: '', NODE_ENV: 'production' },
  });

const shardOf = (name: string): number => loadTopology().fences.find((f) => f.name === name)!.shard;

beforeAll(() => {
  if (!existsSync(`${root}dist/commands/route.js`))
    throw new Error('dist/commands/route.js is missing: run `npx tsc -p .` (npm test builds first)');
});

describe('ezctl route', () => {
  it('answers Beijing and Shanghai with --json: different eZones, epoch 1', async () => {
    const [bj, sh] = await Promise.all([
      ezctl('--tag', 'geo=39.9042,116.4074', '--json'),
      ezctl('--tag', 'geo=31.2304,121.4737', '--json'),
    ]);
    expect(bj.exitCode).toBe(0);
    expect(sh.exitCode).toBe(0);
    expect(JSON.parse(bj.stdout)).toEqual({
      shard: shardOf('Beijing'),
      zone: 'ez-bj',
      epoch: 1,
      shardState: 'serving',
      zoneState: 'active',
      decidedBy: 'geo',
    });
    expect(JSON.parse(sh.stdout)).toMatchObject({
      shard: shardOf('Shanghai'),
      zone: 'ez-sh',
      decidedBy: 'geo',
    });
  });

  it('routes an order id by its embedded shard, and explains the layers', async () => {
    const id = encodeOrderId({
      timestampMs: Date.parse('2026-04-01T08:00:00Z'),
      shard: shardOf('Harbin'),
      sequence: 42,
    });
    const r = await ezctl('--tag', `geo=31.2304,121.4737; order=${id}`, '--explain');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`shard ${shardOf('Harbin')} -> eZone ez-bj (epoch 1)`);
    expect(r.stdout).toMatch(/decided by {3}order=\d+ \(shard \d+ embedded in the order id\)/);
    expect(r.stdout).toMatch(/^ {2}geo {7}overridden {5}31\.2304,121\.4737 {2}order takes precedence$/m);
    expect(r.stdout).toMatch(/^ {2}merchant {2}not-present$/m);
    const json = JSON.parse((await ezctl('--tag', `order=${id}`, '--json', '--explain')).stdout);
    expect(json.layers.map((l: { outcome: string }) => l.outcome)).toEqual([
      'not-present',
      'resolved',
      'not-present',
      'not-present',
      'not-present',
      'not-present',
    ]);
  });

  it('uses --topology: Guangzhou goes to ez-gz on three-zones', async () => {
    const r = await ezctl(
      '--tag',
      'geo=23.1291,113.2644',
      '--topology',
      'fixtures/topologies/three-zones.yaml',
      '--json',
    );
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ zone: 'ez-gz', shard: shardOf('Guangzhou') });
  });

  const malformed: [string, RegExp][] = [
    ['', /^ezctl: empty routing tag \(expected key=value pairs/],
    [
      'zone=ez-bj',
      /^ezctl: unknown key "zone" \(expected one of shard, order, merchant, rider, user, geo\)$/,
    ],
    ['geo=95,116', /^ezctl: geo: latitude 95 out of range \(expected -90\.\.90\)$/],
    ['geo=31,190', /^ezctl: geo: longitude 190 out of range \(expected -180\.\.180\)$/],
    ['geo=31.2304', /^ezctl: geo: "31\.2304" is not lat,lng/],
    ['geo=abc,1', /^ezctl: geo: latitude "abc" is not a decimal number of degrees/],
    ['order=12ab', /^ezctl: order: "12ab" is not a decimal order id \(expected digits only/],
    [
      'order=99999999999999999999',
      /^ezctl: order: 99999999999999999999 is out of range \(expected below 2\^64\)$/,
    ],
    ['shard=1024', /^ezctl: shard: 1024 out of range \(expected an integer 0\.\.1023\)$/],
    ['shard=1;shard=2', /^ezctl: duplicate key "shard"/],
    ['merchant=m 1', /^ezctl: merchant: "m 1" is not a merchant id/],
    ['shard=1;;geo=1,1', /^ezctl: empty pair #2/],
    ['geo', /^ezctl: "geo" is not key=value/],
    ['geo=0,0', /^ezctl: no key of the routing tag resolves to a shard: geo 0,0 is outside every fence$/],
    [
      'merchant=m-unknown',
      /^ezctl: no key of the routing tag resolves to a shard: merchant "m-unknown" is not in the key table$/,
    ],
  ];

  it(`rejects ${malformed.length} malformed or unroutable tags: exit 2, one line on stderr, JSON error with --json`, async () => {
    const results = [];
    // two at a time: each run is a cold CLI start
    for (let i = 0; i < malformed.length; i += 2) {
      const batch = malformed.slice(i, i + 2);
      results.push(
        ...(await Promise.all(
          batch.map(async ([tag, message]) => ({
            tag,
            message,
            text: await ezctl('--tag', tag),
            json: await ezctl('--tag', tag, '--json'),
          })),
        )),
      );
    }
    for (const { tag, message, text, json } of results) {
      expect(text.exitCode, tag).toBe(2);
      expect(text.stdout, tag).toBe('');
      expect(text.stderr.trimEnd().split('\n'), tag).toHaveLength(1);
      expect(text.stderr.trimEnd(), tag).toMatch(message);
      expect(json.exitCode, tag).toBe(2);
      const body = JSON.parse(json.stdout);
      expect(body.error.code, tag).toBe('EZ_BAD_ROUTE');
      expect(`ezctl: ${body.error.message}`, tag).toMatch(message);
    }
  });

  it('says what is missing when --tag is not given', async () => {
    const r = await ezctl();
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/Missing required flag tag/);
  });
});
