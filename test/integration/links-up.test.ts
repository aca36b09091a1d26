/**
 * `ezctl up` on links (DESIGN §8): every path between sites is a named link of the link server
 * it starts, slowed to the topology's round trip; DRC reads its source through `B->A:mysql`; a
 * workload passes every check on them.
 */
import { execa } from 'execa';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWorkload } from '../../harness/workload/run.js';
import { drainDirection } from '../../src/drc/index.js';
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

  it("audits by GZS's ownership: after `ezctl gzs owner`, the new owner's writes are legal, the old owner's one write is reported", async () => {
    const t = cluster.topology;
    const moved = await ezctl('gzs', 'owner', '0', 'ez-sh', '--json');
    expect(moved.exitCode, moved.stderr).toBe(0);
    const epoch = JSON.parse(moved.stdout).epoch as number;
    // writes at the new owner, through APIRouter (a 421 from ez-bj's service makes it retry at ez-sh)
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`http://127.0.0.1:${t.deployment.router.port}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-ez-route': 'shard=0' },
        body: JSON.stringify({ user: `u-${i}`, merchant: 'm-1', amountCents: 100 }),
      });
      expect(r.status, await r.clone().text()).toBe(201);
      expect(r.headers.get('x-ez-zone')).toBe('ez-sh');
      ids.push(((await r.json()) as { order: { id: string } }).order.id);
    }
    await drainDirection(t, 'ez-sh', 'ez-bj', 30_000);
    const none = await ezctl('audit', 'illegal-writes', '--json');
    expect(JSON.parse(none.stdout).illegalWrites, none.stdout).toEqual([]);
    expect(none.exitCode).toBe(0);

    // one write at the old owner, straight into its database (no service would accept it)
    const app = mysqlAccount('app');
    const bj = await mysql.createConnection({
      host: '127.0.0.1',
      port: t.deployment.zones['ez-bj'].ports.mysql,
      user: app.user,
      password: app.password,
      database: t.database,
    });
    try {
      await bj.query(
        "UPDATE orders SET state = 'accepted', version = version + 1, updated_at = NOW(6) WHERE id = ?",
        [ids[0]],
      );
    } finally {
      await bj.end();
    }
    await drainDirection(t, 'ez-bj', 'ez-sh', 30_000);
    const one = await ezctl('audit', 'illegal-writes', '--json');
    expect(one.exitCode).toBe(1);
    const found = JSON.parse(one.stdout).illegalWrites;
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      table: 'orders',
      pk: ids[0],
      shard: 0,
      origin: 'ez-bj',
      owner: 'ez-sh',
      epoch,
    });
    expect(found[0].evidence).toMatchObject({ rule: 'shard-owned-by-another-ezone', judgedBy: 'updated_at' });
    expect(found[0].evidence.provisional).toBeUndefined();
  });
});
