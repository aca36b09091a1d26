// The links' pure logic: fault grammar, toxics, seeded draws, the link plan.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiError, parseHostPort } from '../../src/links/errors.js';
import { parseFault } from '../../src/links/fault.js';
import { planLinks } from '../../src/links/index.js';
import { latencyDelay, sliceOffsets } from '../../src/links/stage.js';
import { parseToxic, parseToxicUpdate } from '../../src/links/toxic.js';
import {
  EDGE,
  gzsUrlFrom,
  gzsZone,
  linkListenPort,
  linkName,
  linkPortRange,
  loadTopology,
  parseLinkName,
  plannedLinks,
  reach,
} from '../../src/topology/index.js';
import { fixturesDir } from '../../src/util/paths.js';
import { deriveSeed, seededRandom } from '../../src/util/random.js';

describe('fault grammar', () => {
  it('parses slow, partition and heal', () => {
    expect(parseFault('slow 30ms')).toEqual({ kind: 'slow', ms: 30 });
    expect(parseFault(['slow', '1.5s'])).toEqual({ kind: 'slow', ms: 1500 });
    expect(parseFault(['partition', 'refuse'])).toEqual({ kind: 'partition', mode: 'refuse' });
    expect(parseFault('partition')).toEqual({ kind: 'partition', mode: 'stall' });
    expect(parseFault('HEAL')).toEqual({ kind: 'heal' });
  });
  it('rejects the rest with the grammar', () => {
    expect(() => parseFault('slow')).toThrow(/missing the round-trip time/);
    expect(() => parseFault('slow 0ms')).toThrow(/out of range \(expected 1 ms to 1 min\)/);
    expect(() => parseFault('partition sideways')).toThrow(/stall, refuse or blackhole/);
    expect(() => parseFault('explode')).toThrow(/unknown fault "explode"; expected/);
    expect(() => parseFault('slow 0.5ms')).toThrow(/whole milliseconds/);
  });
});

describe('toxic bodies', () => {
  it('fills Toxiproxy defaults', () => {
    expect(parseToxic({ type: 'bandwidth', attributes: { rate: 10 } })).toEqual({
      name: 'bandwidth_downstream',
      type: 'bandwidth',
      stream: 'downstream',
      toxicity: 1,
      attributes: { rate: 10 },
    });
  });
  it('rejects unknown types, bad streams, absurd attributes and unknown attribute keys', () => {
    const status = (f: () => unknown) => {
      try {
        f();
        return 0;
      } catch (err) {
        return (err as ApiError).status;
      }
    };
    expect(status(() => parseToxic({ type: 'warp' }))).toBe(400);
    expect(status(() => parseToxic({ type: 'latency', stream: 'up' }))).toBe(400);
    expect(status(() => parseToxic({ type: 'latency', attributes: { latency: -1 } }))).toBe(400);
    expect(status(() => parseToxic({ type: 'latency', attributes: { latency: 1e12 } }))).toBe(400);
    expect(status(() => parseToxic({ type: 'latency', attributes: { latency: 1.5 } }))).toBe(400);
    expect(status(() => parseToxic({ type: 'latency', attributes: { latancy: 5 } }))).toBe(400);
    expect(status(() => parseToxic({ type: 'latency', toxicity: 2 }))).toBe(400);
    expect(
      status(() => parseToxic({ type: 'slicer', attributes: { average_size: 10, size_variation: 10 } })),
    ).toBe(400);
    expect(status(() => parseToxic({ type: 'latency', name: 'a/b' }))).toBe(400);
  });
  it('updates merge attributes and keep type and stream', () => {
    const t = parseToxic({
      name: 'l',
      type: 'latency',
      stream: 'upstream',
      attributes: { latency: 5, jitter: 1 },
    });
    expect(parseToxicUpdate(t, { attributes: { jitter: 0 }, type: 'bandwidth' })).toMatchObject({
      type: 'latency',
      stream: 'upstream',
      attributes: { latency: 5, jitter: 0 },
    });
  });
});

describe('addresses', () => {
  it('parses host:port, [v6]:port and :port', () => {
    expect(parseHostPort('127.0.0.1:0', 'listen', 0)).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseHostPort('[::1]:8474', 'listen', 0)).toEqual({ host: '::1', port: 8474 });
    expect(parseHostPort(':8474', 'listen', 0)).toEqual({ host: '', port: 8474 });
    expect(() => parseHostPort('localhost:0', 'upstream', 1)).toThrow(ApiError);
    expect(() => parseHostPort('::1:80', 'upstream', 1)).toThrow(/brackets/);
    expect(() => parseHostPort('h:70000', 'upstream', 1)).toThrow(/1\.\.65535/);
  });
});

describe('seeded randomness', () => {
  it('replays the same draws for the same seed and differs for another', () => {
    const a = seededRandom(deriveSeed(1, 'p', 3));
    const b = seededRandom(deriveSeed(1, 'p', 3));
    const c = seededRandom(deriveSeed(2, 'p', 3));
    const xs = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(xs);
    expect(Array.from({ length: 5 }, c)).not.toEqual(xs);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });
  it('jitter stays within latency ± jitter and never below 0', () => {
    const spec = parseToxic({ type: 'latency', attributes: { latency: 10, jitter: 4 } });
    const r = seededRandom(5);
    for (let i = 0; i < 1000; i++) {
      const d = latencyDelay(spec, r);
      expect(d).toBeGreaterThanOrEqual(6);
      expect(d).toBeLessThanOrEqual(14);
    }
  });
  it('slicer cuts cover the chunk, in order, within average + variation', () => {
    const cuts = sliceOffsets(10_000, 100, 20, seededRandom(1));
    expect(cuts[0]).toBe(0);
    expect(cuts[cuts.length - 1]).toBe(10_000);
    for (let i = 1; i < cuts.length; i++) {
      expect(cuts[i]).toBeGreaterThan(cuts[i - 1]);
      expect(cuts[i] - cuts[i - 1]).toBeLessThanOrEqual(120);
    }
  });
});

describe('link plan', () => {
  const topology = loadTopology();
  const three = loadTopology(join(fixturesDir(), 'topologies', 'three-zones.yaml'));
  it('names links <from>-><to>:<kind> and parses them back', () => {
    expect(linkName('ez-bj', 'ez-sh', 'mysql')).toBe('ez-bj->ez-sh:mysql');
    expect(linkName(EDGE, 'ez-sh', 'api')).toBe('edge->ez-sh:api');
    expect(parseLinkName('ez-bj->ez-sh:soa')).toEqual({ from: 'ez-bj', to: 'ez-sh', kind: 'soa' });
    expect(parseLinkName('edge->ez-bj:api')).toEqual({ from: 'edge', to: 'ez-bj', kind: 'api' });
    expect(parseLinkName('ez-bj->ez-sh:nope')).toBeNull();
    expect(parseLinkName('raw')).toBeNull();
  });

  it("plans a link for every path between sites, with the topology's latency", () => {
    const plan = plannedLinks(topology);
    const g = gzsZone(topology);
    expect(g).toBe('ez-bj'); // the Global-Zone master, by default
    expect(plan.map((l) => `${l.name} ${l.rttMs}`).sort()).toEqual(
      [
        'edge->ez-bj:api 2',
        'edge->ez-sh:api 2',
        'edge->ez-bj:gzs 2',
        'ez-bj->ez-sh:mysql 30',
        'ez-bj->ez-sh:soa 30',
        'ez-sh->ez-bj:mysql 30',
        'ez-sh->ez-bj:soa 30',
        'ez-sh->ez-bj:gzs 30',
        'ez-sh->ez-bj:global 30',
      ].sort(),
    );
    const bj = topology.deployment.zones['ez-bj'].ports;
    const byName = new Map(plan.map((l) => [l.name, l]));
    expect(byName.get('ez-sh->ez-bj:mysql')!.upstream).toEqual({ host: '127.0.0.1', port: bj.mysql });
    expect(byName.get('edge->ez-bj:api')!.upstream).toEqual({ host: '127.0.0.1', port: bj.orders });
    expect(byName.get('ez-sh->ez-bj:gzs')!.upstream.port).toBe(topology.deployment.gzs.port);
  });

  it('allocates distinct listen ports inside the reserved range, deterministically', () => {
    for (const t of [topology, three]) {
      const plan = plannedLinks(t);
      const ports = plan.map((l) => l.listen.port);
      expect(new Set(ports).size).toBe(ports.length);
      const [lo, hi] = linkPortRange(t);
      expect(lo).toBe(t.deployment.links!.port + 1);
      for (const p of ports) {
        expect(p).toBeGreaterThanOrEqual(lo);
        expect(p).toBeLessThanOrEqual(hi);
      }
      expect(plannedLinks(t)).toEqual(plan);
    }
  });

  it('reaches a service through its link when links are on, directly when off or local', () => {
    const sh = topology.deployment.zones['ez-sh'].ports;
    expect(reach(topology, false, 'ez-bj', 'ez-sh', 'mysql')).toEqual({ host: '127.0.0.1', port: sh.mysql });
    expect(reach(topology, true, 'ez-bj', 'ez-sh', 'mysql')).toEqual({
      host: '127.0.0.1',
      port: linkListenPort(topology, 'ez-bj', 'ez-sh', 'mysql'),
    });
    expect(reach(topology, true, 'ez-sh', 'ez-sh', 'soa')).toEqual({ host: '127.0.0.1', port: sh.soa });
    expect(gzsUrlFrom(topology, true, 'ez-bj')).toBe(`http://127.0.0.1:${topology.deployment.gzs.port}`);
    expect(gzsUrlFrom(topology, true, 'ez-sh')).toBe(
      `http://127.0.0.1:${linkListenPort(topology, 'ez-sh', 'ez-bj', 'gzs')}`,
    );
  });

  it('plans test links for a set of addresses (all eZone pairs, kinds the target serves)', () => {
    const plan = planLinks(topology, { 'ez-bj': { mysql: 'h:1' }, 'ez-sh': { mysql: 'h:2', soa: 'h:3' } });
    expect(plan.map((l) => [l.name, l.upstream])).toEqual([
      ['ez-bj->ez-sh:mysql', 'h:2'],
      ['ez-bj->ez-sh:soa', 'h:3'],
      ['ez-sh->ez-bj:mysql', 'h:1'],
    ]);
    expect(plan[0].listen).toBe(`127.0.0.1:${linkListenPort(topology, 'ez-bj', 'ez-sh', 'mysql')}`);
    expect(planLinks(topology, { 'ez-sh': { soa: 'h:3' } }, { basePort: 0 })[0].listen).toBe('127.0.0.1:0');
  });
});
