import { execa } from 'execa';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWorkload } from '../../harness/workload/run.js';
import { projectRoot } from '../../src/util/paths.js';
import { startZoneCluster, type ZoneCluster } from '../helpers/services.js';

// The demo workload on a whole two-eZone cluster started by the real `up`: orders all over the
// country through APIRouter, DRC copying them across, the §7 checkers over the recorded history.
describe('workload on a running cluster', () => {
  let cluster: ZoneCluster;
  beforeAll(async () => {
    cluster = await startZoneCluster();
  });
  afterAll(async () => {
    await cluster?.down({ purge: true });
  });

  it('serves orders in both eZones, loses none, converges, and every check passes', async () => {
    const t = cluster.topology;
    const report = await runWorkload({
      topology: t,
      routerUrl: `http://127.0.0.1:${t.deployment.router.port}`,
      gzsUrl: `http://127.0.0.1:${t.deployment.gzs.port}`,
      orders: 120,
      concurrency: 8,
      seed: 7,
      drainTimeoutMs: 20_000,
    });
    expect(report.ops.fail + report.ops.info, JSON.stringify(report.errors)).toBe(0);
    expect(Object.keys(report.servedBy).sort()).toEqual(['ez-bj', 'ez-sh']);
    expect(report.drainMs).not.toBeNull();
    expect(report.checks.noLostOrder.checked).toBe(120);
    for (const [name, c] of Object.entries(report.checks)) {
      expect(c.violations, name).toEqual([]);
      expect(c.verdict, name).toBe('ok');
    }
    // convergence compared every replicated table, whole, in both eZones
    const { tables } = report.checks.convergence;
    expect(Object.keys(tables).sort()).toEqual(['orders', 'users']);
    expect(tables.orders['ez-bj']).toEqual(tables.orders['ez-sh']);
    expect(tables.orders['ez-bj'].rows).toBe(120);
    expect(report.valid).toBe(true);
  });

  it('ezctl workload --json prints the report and exits 0 when valid', async () => {
    const r = await execa(
      'node',
      [
        `${projectRoot()}/bin/run.js`,
        'workload',
        '--orders',
        '20',
        '--topology',
        cluster.topologyFile,
        '--json',
      ],
      {
        reject: false,
      },
    );
    expect(r.exitCode, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ orders: 20, valid: true });
    expect(r.stderr).toMatch(/workload: 20\/20 orders/);
    expect(r.stderr).not.toMatch(/could not judge/);
    expect(report.history).toBeUndefined(); // only on request (--history)
  });

  it('ezctl workload exits 1 and names the rows when a replicated table differs between eZones', async () => {
    // a users row only ez-sh has, written outside the binlog so DRC never copies it
    const sh = (await cluster.status()).processes.find((p) => p.kind === 'mariadb' && p.zone === 'ez-sh')!;
    const root = await mysql.createConnection({
      socketPath: sh.endpoints.socket,
      user: 'root',
      database: cluster.topology.database,
    });
    try {
      await root.query('SET SESSION sql_log_bin = 0'); // the DELETE below stays local too
      await root.query(
        "INSERT INTO users (id, phone, name, updated_at) VALUES ('u-only-in-sh', '+86-0', 'x', NOW(6))",
      );
      const r = await execa(
        'node',
        [
          `${projectRoot()}/bin/run.js`,
          'workload',
          '--orders',
          '10',
          '--drain-timeout',
          '1s',
          '--history',
          '--topology',
          cluster.topologyFile,
          '--json',
        ],
        { reject: false },
      );
      expect(r.exitCode, r.stderr).toBe(1);
      const report = JSON.parse(r.stdout);
      expect(report.valid).toBe(false);
      expect(report.drain).toMatchObject({ timedOut: true });
      expect(report.drain.message).toMatch(/^drain timed out after .*users identical in every eZone/);
      expect(report.checks.convergence.verdict).toBe('fail');
      expect(report.checks.convergence.violations).toEqual([
        expect.stringMatching(
          /^table users differs: ez-bj 0 rows \w+, ez-sh 1 rows \w+; first differing primary keys: u-only-in-sh \(missing in ez-bj\)$/,
        ),
      ]);
      // the other checks judged what is there: the orders are fine
      expect(report.checks.noLostOrder.verdict).toBe('ok');
      expect(r.stderr).not.toMatch(/could not judge/);
      expect(report.history).toHaveLength(report.ops.total);
    } finally {
      await root.query("DELETE FROM users WHERE id = 'u-only-in-sh'");
      await root.end();
    }
  });
});
