import { execa } from 'execa';
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
  });
});
