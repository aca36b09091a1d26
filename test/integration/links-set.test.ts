/**
 * Link sets on the two-zones topology with real TCP echo servers as each eZone's services:
 * links per directed path and kind, faults on a pair or a whole eZone in one step, heal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinkSet } from '../../src/links/link-set.js';
import { type LinkServer, startLinkServer } from '../../src/links/server.js';
import { dial, type EchoServer, median, readBytes, roundTrips, startEcho } from '../../src/links/testkit.js';
import { loadTopology } from '../../src/topology/index.js';

process.env.EZ_LOG_LEVEL ??= 'warn';

const topology = loadTopology();
let server: LinkServer;
let set: LinkSet;
const echoes: EchoServer[] = [];

beforeAll(async () => {
  server = await startLinkServer({ port: 0, seed: 4 });
  const svc = async () => {
    const e = await startEcho();
    echoes.push(e);
    return e.address;
  };
  set = await LinkSet.create({
    toxiproxy: server.url,
    topology,
    basePort: 0,
    addresses: {
      'ez-bj': { mysql: await svc(), soa: await svc(), global: await svc() },
      'ez-sh': { mysql: await svc(), soa: await svc() },
    },
  });
});
afterAll(async () => {
  await server?.close();
  for (const e of echoes) await e.close();
});

async function rtt(from: string, to: string, kind: 'mysql' | 'soa'): Promise<number> {
  const s = await dial(set.address(from, to, kind));
  const r = median(await roundTrips(s, 15));
  s.destroy();
  return r;
}

describe('link set', () => {
  it('creates one link per directed path and kind, named <from>-><to>:<kind>', () => {
    expect(set.links.map((l) => l.name)).toEqual([
      'ez-bj->ez-sh:mysql',
      'ez-bj->ez-sh:soa',
      'ez-sh->ez-bj:global',
      'ez-sh->ez-bj:mysql',
      'ez-sh->ez-bj:soa',
    ]);
    expect(set.address('ez-sh', 'ez-bj', 'global')).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(() => set.address('ez-bj', 'ez-sh', 'gzs')).toThrow(/no link ez-bj->ez-sh:gzs/);
  });

  it('attach finds the same links on the server', async () => {
    const again = await LinkSet.attach({ toxiproxy: server.url, topology });
    expect(again.links).toEqual(set.links);
  });

  it('slow 30ms on a pair: 30 ms round trips both ways, on every kind', async () => {
    expect(await rtt('ez-bj', 'ez-sh', 'mysql')).toBeLessThan(5);
    const r = await set.fault('ez-bj', 'ez-sh', 'slow 30ms');
    expect(r.links).toHaveLength(5);
    for (const [a, b, k] of [
      ['ez-bj', 'ez-sh', 'mysql'],
      ['ez-sh', 'ez-bj', 'soa'],
    ] as const) {
      const t = await rtt(a, b, k);
      expect(t).toBeGreaterThanOrEqual(30);
      expect(t).toBeLessThan(35);
    }
    await set.fault('ez-bj', 'ez-sh', 'slow 10ms'); // replaces, does not add up
    const t = await rtt('ez-bj', 'ez-sh', 'soa');
    expect(t).toBeGreaterThanOrEqual(10);
    expect(t).toBeLessThan(15);
    await set.heal();
    expect(await rtt('ez-bj', 'ez-sh', 'mysql')).toBeLessThan(5);
  });

  it('partition stall on a whole eZone holds bytes; heal resumes the same connections', async () => {
    const s = await dial(set.address('ez-sh', 'ez-bj', 'mysql'));
    s.write('a');
    expect((await readBytes(s, 1)).toString()).toBe('a');
    await set.fault('ez-bj', '*', 'partition stall');
    let got = '';
    s.on('data', (b) => {
      got += b.toString();
    });
    s.write('held');
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toBe('');
    const healed = await set.heal('ez-bj', '*');
    expect(healed.links).toHaveLength(5);
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toBe('held');
    s.destroy();
  });

  it('partition refuse: connections refused until heal', async () => {
    await set.fault('ez-sh', 'ez-bj', 'partition refuse');
    await expect(dial(set.address('ez-bj', 'ez-sh', 'soa'))).rejects.toThrow(/ECONNREFUSED/);
    expect(set.links.every((l) => !l.enabled)).toBe(true);
    await set.heal();
    expect(await rtt('ez-bj', 'ez-sh', 'soa')).toBeLessThan(5);
  });

  it('partition blackhole: bytes vanish, the connection stays open', async () => {
    const s = await dial(set.address('ez-bj', 'ez-sh', 'mysql'));
    await set.fault('ez-bj', 'ez-sh', 'partition blackhole');
    let got = 0;
    s.on('data', (b) => {
      got += b.length;
    });
    s.write('gone');
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toBe(0);
    expect(s.destroyed).toBe(false);
    await set.heal();
    s.destroy();
    expect(await rtt('ez-bj', 'ez-sh', 'mysql')).toBeLessThan(5);
  });

  it('bad input is a usage error naming the eZones', async () => {
    await expect(set.fault('ez-bj', 'ez-xx', 'slow 30ms')).rejects.toThrow(
      /unknown eZone "ez-xx" \(known: ez-bj, ez-sh\)/,
    );
    await expect(set.fault('ez-bj', 'ez-bj', 'heal')).rejects.toThrow(/twice/);
    await expect(set.fault('ez-bj', 'ez-sh', 'slow')).rejects.toThrow(/expected/);
  });
});
