import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTopology, parseTopology, TopologyError } from '../../src/topology/index.js';
import { fixturesDir } from '../../src/util/paths.js';

const square = (x: number, y: number, shard: number) => ({
  type: 'Feature',
  properties: { shard, name: `sq${shard}` },
  geometry: {
    type: 'Polygon',
    coordinates: [
      [
        [x, y],
        [x + 1, y],
        [x + 1, y + 1],
        [x, y + 1],
        [x, y],
      ],
    ],
  },
});

const BASE = `
name: tiny
zones:
  - id: ez-a
  - id: ez-b
globalZone: { master: ez-a }
fences: fences.geojson
shards:
  - { id: 0, zone: ez-a }
  - { range: "1-2", zone: ez-b }
keys:
  merchant: { m-1: 2 }
tables:
  - { name: orders, kind: sharded, shardColumn: shard_id, cacheKey: "order:{id}" }
  - { name: users, kind: global }
deployment:
  gzs: { port: 30100 }
  router: { port: 30080 }
  zones:
    ez-a: { portBase: 30200 }
    ez-b: { portBase: 30300 }
`;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ez-topology-'));
  writeFileSync(
    join(dir, 'fences.geojson'),
    JSON.stringify({
      type: 'FeatureCollection',
      features: [square(0, 0, 0), square(1, 0, 1), square(2, 0, 2)],
    }),
  );
  writeFileSync(
    join(dir, 'bad-shard.geojson'),
    JSON.stringify({ type: 'FeatureCollection', features: [square(0, 0, 9)] }),
  );
  writeFileSync(
    join(dir, 'open-ring.geojson'),
    JSON.stringify({ type: 'FeatureCollection', features: [openRing()] }),
  );
  writeFileSync(join(dir, 'not-json.geojson'), '{ nope');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function openRing() {
  const f = square(0, 0, 0);
  f.geometry.coordinates[0].pop();
  f.geometry.coordinates[0].push([0.5, 0.5]);
  return f;
}

const parse = (text: string) => parseTopology(text, join(dir, 'topo.yaml'));

describe('topology loader', () => {
  it('accepts a valid file and resolves shards, ports and server ids', () => {
    const t = parse(BASE);
    expect(t.name).toBe('tiny');
    expect(t.database).toBe('ezshop');
    expect(t.zones.map((z) => [z.id, z.serverId])).toEqual([
      ['ez-a', 1],
      ['ez-b', 2],
    ]);
    expect([...t.shards.entries()]).toEqual([
      [0, 'ez-a'],
      [1, 'ez-b'],
      [2, 'ez-b'],
    ]);
    expect(t.deployment.zones['ez-b'].ports).toMatchObject({
      mysql: 30300,
      redis: 30301,
      dal: 30302,
      soa: 30303,
      drc: 30310,
    });
    expect(t.tables[0]).toMatchObject({ name: 'orders', primaryKey: ['id'], updatedAt: 'updated_at' });
    expect(t.fences).toHaveLength(3);
    expect(t.keys.merchant['m-1']).toBe(2);
  });

  // Each malformed file must give one line naming the offending path inside the file.
  const cases: Array<[string, string, RegExp]> = [
    [
      'unknown eZone of a shard',
      BASE.replace('{ id: 0, zone: ez-a }', '{ id: 0, zone: ez-xx }'),
      /shards\[0\]\.zone: unknown eZone "ez-xx" \(known: ez-a, ez-b\)/,
    ],
    [
      'shard id out of range',
      BASE.replace('{ id: 0, zone: ez-a }', '{ id: 1024, zone: ez-a }'),
      /shards\[0\]\.id: expected a shard id \(integer 0\.\.1023\), got 1024/,
    ],
    [
      'shard listed twice',
      BASE.replace('"1-2"', '"0-2"'),
      /shards\[1\]: shard 0 listed twice \(first at shards\[0\]\)/,
    ],
    ['bad eZone id', BASE.replace('- id: ez-b', '- id: EZ_B'), /zones\[1\]\.id: bad eZone id "EZ_B"/],
    ['duplicate eZone', BASE.replace('- id: ez-b', '- id: ez-a'), /zones\[1\]\.id: duplicate eZone "ez-a"/],
    [
      'unknown global master',
      BASE.replace('master: ez-a', 'master: ez-q'),
      /globalZone\.master: unknown eZone "ez-q"/,
    ],
    ['typo in a key', BASE.replace('shards:', 'shrads:'), /unknown key "shrads"/],
    [
      'sharded table without column',
      BASE.replace(', shardColumn: shard_id', ''),
      /tables\[0\]\.shardColumn: required for a sharded table/,
    ],
    [
      'bad table kind',
      BASE.replace('kind: global', 'kind: local'),
      /tables\[1\]\.kind: expected "sharded" or "global", got "local"/,
    ],
    [
      'missing deployment of an eZone',
      BASE.replace('    ez-b: { portBase: 30300 }\n', ''),
      /deployment\.zones: missing eZone "ez-b"/,
    ],
    [
      'port collision',
      BASE.replace('portBase: 30300', 'portBase: 30201'),
      /deployment\.zones\.ez-b\.portBase: port 30201 \(mysql of ez-b\) collides with redis of ez-a/,
    ],
    [
      'port out of range',
      BASE.replace('port: 30100', 'port: 70000'),
      /deployment\.gzs\.port: expected a TCP port/,
    ],
    [
      'remote host not yet supported',
      BASE.replace('ez-a: { portBase: 30200 }', 'ez-a: { host: db1.example, portBase: 30200 }'),
      /deployment\.zones\.ez-a\.host: unsupported host "db1\.example"/,
    ],
    [
      'key mapped to unlisted shard',
      BASE.replace('m-1: 2', 'm-1: 7'),
      /keys\.merchant\.m-1: shard 7 is not listed in shards/,
    ],
    ['missing tables', BASE.replace(/tables:[\s\S]*?deployment:/, 'deployment:'), /tables: required/],
    [
      'YAML syntax error',
      BASE.replace('zones:\n  - id: ez-a', 'zones:\n  - id: [ez-a'),
      /topo\.yaml:\d+:\d+ YAML syntax/,
    ],
    ['not a mapping', '- just\n- a list\n', /\(top level\): expected a mapping/],
    [
      'fence with unlisted shard',
      BASE.replace('fences.geojson', 'bad-shard.geojson'),
      /fences \(bad-shard\.geojson\): features\[0\]\.properties\.shard: shard 9 is not listed in shards/,
    ],
    [
      'fence ring not closed',
      BASE.replace('fences.geojson', 'open-ring.geojson'),
      /features\[0\]\.geometry\.coordinates\[0\]: ring is not closed/,
    ],
    [
      'fences file not JSON',
      BASE.replace('fences.geojson', 'not-json.geojson'),
      /fences \(not-json\.geojson\): not JSON/,
    ],
    [
      'fences file missing',
      BASE.replace('fences.geojson', 'nowhere.geojson'),
      /fences \(nowhere\.geojson\): no such file/,
    ],
  ];

  for (const [what, text, expected] of cases) {
    it(`rejects: ${what}`, () => {
      let err: unknown;
      try {
        parse(text);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TopologyError);
      const message = (err as Error).message;
      expect(message).toMatch(expected);
      expect(message).not.toContain('\n');
      expect(message.startsWith(join(dir, 'topo.yaml')) || message.includes('topo.yaml')).toBe(true);
      expect((err as TopologyError).exitCode).toBe(2);
    });
  }

  it('names a missing topology file', () => {
    expect(() => loadTopology(join(dir, 'absent.yaml'))).toThrow(
      /absent\.yaml: cannot read topology file \(no such file\)/,
    );
  });

  it('loads the committed fixture topologies', () => {
    for (const name of ['two-zones', 'three-zones']) {
      const t = loadTopology(join(fixturesDir(), 'topologies', `${name}.yaml`));
      expect(t.name).toBe(name);
      const owners = new Set(t.shards.values());
      expect(owners.size).toBe(t.zones.length);
      // every fence names a listed shard (the loader checks it); every listed shard has a fence
      const fenced = new Set(t.fences.map((f) => f.shard));
      for (const id of t.shards.keys()) expect(fenced.has(id)).toBe(true);
    }
  });
});
