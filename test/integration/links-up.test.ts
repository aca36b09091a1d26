/**
 * `ezctl up` on links (DESIGN §8): every path between sites is a named link of the link server
 * it starts, slowed to the topology's round trip; DRC reads its source through `B->A:mysql`; a
 * workload passes every check on them.
 */
import { execa } from 'execa';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWorkload } from '../../harness/workload/run.js';
import { mysqlAccount } from '../../src/shared/mysql-accounts.js';
import { controlGzsUrl, linkListenPort, plannedLinks } from '../../src/topology/index.js';
import { projectRoot } from '../../src/util/paths.js';
import { startZoneCluster, type ZoneCluster } from '../helpers/services.js';

let cluster: ZoneCluster;
beforeAll(async () => {
  cluster = await startZoneCluster();
});
afterAll(async () => {
  await cluster?.down({ purge: true });
});

const ezctl = (...args: string[]) =>
  execa(process.execPath, [`${projectRoot()}/bin/run.js`, ...args, '--topology', cluster.topologyFile], {
    reject: false,
    env: { EZCTL_HOME: cluster.stateDir },
  });

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

describe('ezctl up on links', () => {
  it('starts the link server and lists a link for every path between sites, with its latency', async () => {
    const r = await ezctl('links', 'list', '--json');
    expect(r.exitCode, r.stderr).toBe(0);
    const links = JSON.parse(r.stdout).links as {
      name: string;
      enabled: boolean;
      toxics: { name: string; attributes: { latency: number } }[];
    }[];
    const plan = plannedLinks(cluster.topology);
    expect(links.map((l) => l.name).sort()).toEqual(plan.map((l) => l.name).sort());
    for (const l of links) {
      const want = plan.find((p) => p.name === l.name)!;
      expect(l.enabled, l.name).toBe(true);
      const total = l.toxics
        .filter((t) => t.name.startsWith('base-latency-'))
        .reduce((n, t) => n + t.attributes.latency, 0);
      expect(total, l.name).toBe(want.rttMs);
    }
    // every inter-eZone kind is there in both directions
    for (const kind of ['mysql', 'soa']) {
      expect(links.map((l) => l.name)).toEqual(
        expect.arrayContaining([`ez-bj->ez-sh:${kind}`, `ez-sh->ez-bj:${kind}`]),
      );
    }
  });

  it("adds the topology's 30 ms round trip to DRC's path: measured over ez-bj->ez-sh:mysql", async () => {
    const t = cluster.topology;
    const a = mysqlAccount('reader');
    const open = (port: number) =>
      mysql.createConnection({
        host: '127.0.0.1',
        port,
        user: a.user,
        password: a.password,
        database: t.database,
      });
    const rtts = async (port: number): Promise<number[]> => {
      const c = await open(port);
      try {
        await c.query('SELECT 1');
        const out: number[] = [];
        for (let i = 0; i < 25; i++) {
          const t0 = performance.now();
          await c.query('SELECT 1');
          out.push(performance.now() - t0);
        }
        return out;
      } finally {
        await c.end();
      }
    };
    const direct = median(await rtts(t.deployment.zones['ez-sh'].ports.mysql));
    const linked = median(await rtts(linkListenPort(t, 'ez-bj', 'ez-sh', 'mysql')));
    console.log(
      `DRC link round trip: direct ${direct.toFixed(2)} ms, through ez-bj->ez-sh:mysql ${linked.toFixed(2)} ms, added ${(linked - direct).toFixed(2)} ms`,
    );
    // a lower bound only: the link delays every chunk by 15 ms each way, noise can only add to it
    expect(linked - direct).toBeGreaterThanOrEqual(29);

    // and the replicator in ez-sh reads ez-bj through that link
    const h = (await (
      await fetch(`http://127.0.0.1:${t.deployment.zones['ez-bj'].ports.drc}/healthz`)
    ).json()) as {
      sourceAddress: string;
    };
    expect(h.sourceAddress).toBe(`127.0.0.1:${linkListenPort(t, 'ez-bj', 'ez-sh', 'mysql')}`);
  });

  it('runs a checked workload through APIRouter on the links', async () => {
    const t = cluster.topology;
    const report = await runWorkload({
      topology: t,
      routerUrl: `http://127.0.0.1:${t.deployment.router.port}`,
      gzsUrl: controlGzsUrl(t),
      orders: 80,
      concurrency: 8,
      seed: 9,
      drainTimeoutMs: 30_000,
    });
    expect(report.valid, JSON.stringify(report.checks)).toBe(true);
    expect(Object.keys(report.servedBy).sort()).toEqual(['ez-bj', 'ez-sh']);
  });
});
