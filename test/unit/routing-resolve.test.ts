// Tag resolution: precedence, fall-through, errors, the Resolver.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  encodeOrderId,
  FenceIndex,
  initialTable,
  OrderIdGenerator,
  parseRouteTag,
  Resolver,
  RouteError,
  type RoutingTable,
  resolveRoute,
} from '../../src/routing/index.js';
import { loadTopology } from '../../src/topology/index.js';
import type { Topology } from '../../src/topology/types.js';
import { fixturesDir } from '../../src/util/paths.js';

const BEIJING = 'geo=39.9042,116.4074';
const SHANGHAI = 'geo=31.2304,121.4737';
const GUANGZHOU = 'geo=23.1291,113.2644';

let topology: Topology;
let index: FenceIndex;
let table: RoutingTable;
const shardNamed = (name: string): number => topology.fences.find((f) => f.name === name)!.shard;

beforeAll(() => {
  topology = loadTopology(); // two-zones
  index = FenceIndex.build(topology.fences);
  table = initialTable(topology);
  // keys used below: a merchant and a rider in Beijing's shard, a user mapped to a shard not in the table
  table.keys.merchant['m-bj'] = shardNamed('Beijing');
  table.keys.rider['r-bj'] = shardNamed('Beijing');
  table.keys.user['u-ghost'] = 999;
  table.keys.user['u-sh'] = shardNamed('Shanghai');
});

const route = (text: string, explain = false) => resolveRoute(parseRouteTag(text), table, index, { explain });

describe('resolveRoute on the two-zones topology', () => {
  it('sends Beijing and Shanghai to different eZones', () => {
    const bj = route(BEIJING);
    const sh = route(SHANGHAI);
    expect(bj).toEqual({
      shard: shardNamed('Beijing'),
      zone: 'ez-bj',
      epoch: 1,
      shardState: 'serving',
      zoneState: 'active',
      decidedBy: 'geo',
    });
    expect(sh).toMatchObject({ shard: shardNamed('Shanghai'), zone: 'ez-sh', decidedBy: 'geo' });
    expect(bj.zone).not.toBe(sh.zone);
  });

  it('routes an order id made by the codec by its embedded shard, whatever the geo says', () => {
    const gz = shardNamed('Guangzhou');
    const id = new OrderIdGenerator(gz).next();
    expect(route(`order=${id};${BEIJING}`)).toMatchObject({
      shard: gz,
      zone: 'ez-sh',
      decidedBy: 'order',
    });
    expect(route(`order=${id};${BEIJING}`, true).layers![1]).toMatchObject({
      key: 'order',
      outcome: 'resolved',
      value: id,
    });
    const bjId = encodeOrderId({
      timestampMs: Date.parse('2026-05-01T12:00:00Z'),
      shard: shardNamed('Beijing'),
      sequence: 7,
    });
    expect(route(`order=${bjId}`)).toMatchObject({ shard: shardNamed('Beijing'), zone: 'ez-bj' });
  });

  it('applies the precedence shard > order > merchant > rider > user > geo', () => {
    const order = encodeOrderId({ timestampMs: Date.parse('2026-02-01T00:00:00Z'), shard: 2, sequence: 0 });
    const all = `geo=31.2304,121.4737;user=u-sh;rider=r-bj;merchant=m-88123;order=${order};shard=5`;
    expect(route(all).decidedBy).toBe('shard');
    expect(route(all.replace(/;shard=5/, '')).decidedBy).toBe('order');
    expect(route(`geo=31.2304,121.4737;user=u-sh;rider=r-bj;merchant=m-88123`)).toMatchObject({
      decidedBy: 'merchant',
      shard: topology.keys.merchant['m-88123'],
    });
    expect(route(`geo=31.2304,121.4737;user=u-sh;rider=r-bj`)).toMatchObject({
      decidedBy: 'rider',
      zone: 'ez-bj',
    });
    expect(route(`${BEIJING};user=u-sh`)).toMatchObject({ decidedBy: 'user', zone: 'ez-sh' });
  });

  it('falls through keys that do not resolve, and explains every layer', () => {
    const d = route(`shard=1000;merchant=m-nobody;user=u-ghost;geo=0,0;rider=r-bj`, true);
    expect(d).toMatchObject({ decidedBy: 'rider', shard: shardNamed('Beijing'), zone: 'ez-bj' });
    expect(d.layers).toEqual([
      {
        key: 'shard',
        outcome: 'not-in-table',
        value: '1000',
        shard: 1000,
        detail: 'shard 1000 not in the table',
      },
      { key: 'order', outcome: 'not-present' },
      { key: 'merchant', outcome: 'unknown-key', value: 'm-nobody', detail: 'no merchant mapping' },
      {
        key: 'rider',
        outcome: 'resolved',
        value: 'r-bj',
        shard: shardNamed('Beijing'),
        detail: `rider table maps it to shard ${shardNamed('Beijing')}`,
      },
      { key: 'user', outcome: 'overridden', value: 'u-ghost', detail: 'rider takes precedence' },
      { key: 'geo', outcome: 'overridden', value: '0,0', detail: 'rider takes precedence' },
    ]);
    const geo = route(`user=u-ghost;${SHANGHAI}`, true);
    expect(geo.layers!.find((l) => l.key === 'user')).toMatchObject({ outcome: 'not-in-table', shard: 999 });
    expect(geo.layers!.find((l) => l.key === 'geo')).toMatchObject({
      outcome: 'resolved',
      detail: 'fence "Shanghai"',
    });
    expect(route(SHANGHAI).layers).toBeUndefined(); // no explain: no layers
  });

  it('refuses to guess: a RouteError naming every key tried when none resolves', () => {
    let err: unknown;
    try {
      route('merchant=m-nobody;geo=0,0;shard=1000');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RouteError);
    expect((err as RouteError).exitCode).toBe(2);
    expect((err as RouteError).message).toBe(
      'no key of the routing tag resolves to a shard: shard 1000 is not in the routing table; ' +
        'merchant "m-nobody" is not in the key table; geo 0,0 is outside every fence',
    );
    expect(() => resolveRoute({}, table, index)).toThrow(/^routing tag has no key/);
  });

  it('reports locked shards and down eZones with the epoch of the table it used', () => {
    const sh = shardNamed('Shanghai');
    const changed: RoutingTable = structuredClone(table);
    changed.epoch = 7;
    changed.shards[String(sh)] = { zone: 'ez-bj', state: 'locked' };
    changed.zones['ez-bj'] = { state: 'down' };
    expect(resolveRoute(parseRouteTag(SHANGHAI), changed, index)).toMatchObject({
      shard: sh,
      zone: 'ez-bj',
      epoch: 7,
      shardState: 'locked',
      zoneState: 'down',
    });
  });
});

describe('Router', () => {
  it('resolves text, requests and swapped tables through one path', () => {
    const router = Resolver.fromTopology(topology);
    expect(router.epoch).toBe(1);
    expect(router.route(SHANGHAI).zone).toBe('ez-sh');
    expect(router.routeRequest({ cookie: `ez_route=${encodeURIComponent(BEIJING)}` })).toMatchObject({
      zone: 'ez-bj',
      source: 'cookie',
    });
    expect(
      router.routeRequest({ header: SHANGHAI, query: `ez_route=${encodeURIComponent(BEIJING)}` }),
    ).toMatchObject({
      zone: 'ez-sh',
      source: 'header',
    });
    const next = structuredClone(router.table);
    next.epoch = 2;
    next.shards[String(shardNamed('Shanghai'))].zone = 'ez-bj';
    router.setTable(next);
    expect(router.route(SHANGHAI)).toMatchObject({ zone: 'ez-bj', epoch: 2 });
    expect(() => router.routeRequest({})).toThrow(RouteError);
  });

  it('routes Guangzhou to ez-gz on three-zones, and the merchant example to an existing shard', () => {
    const three = loadTopology(join(fixturesDir(), 'topologies', 'three-zones.yaml'));
    const router = Resolver.fromTopology(three);
    expect(router.route(GUANGZHOU).zone).toBe('ez-gz');
    expect(router.route(BEIJING).zone).toBe('ez-bj');
    expect(router.route(SHANGHAI).zone).toBe('ez-sh');
    for (const t of [topology, three]) {
      const shard = t.keys.merchant['m-88123'];
      expect(t.shards.has(shard)).toBe(true);
      expect(Resolver.fromTopology(t).route('merchant=m-88123').shard).toBe(shard);
    }
  });
});
