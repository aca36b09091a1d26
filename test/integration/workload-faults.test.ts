// The workload under process crashes on a real two-eZone cluster (`ezctl up` on free ports): an
// eZone's MariaDB, then GZS, is SIGKILLed mid-run and started again by the launcher's `up()` once
// the last order is done, so the outage spans the end of the run and the drain must wait for it.
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWorkload, type WorkloadReport } from '../../harness/workload/run.js';
import { projectRoot } from '../../src/util/paths.js';
import { startZoneCluster, type ZoneCluster } from '../helpers/services.js';

describe('workload through process crashes', () => {
  let cluster: ZoneCluster;
  beforeAll(async () => {
    cluster = await startZoneCluster();
  });
  afterAll(async () => {
    await cluster?.down({ purge: true });
  });

  type Victim = (p: { kind: string; zone: string | null }) => boolean;

  /**
   * Run 150 orders; once `killAfter` orders are done, SIGKILL the process `victim` picks from
   * `ezctl status`; when the last order is done, have `up()` start it again (while the drain runs).
   */
  async function runWithCrash(victim: Victim, killAfter = 20): Promise<WorkloadReport> {
    const t = cluster.topology;
    const target = (await cluster.status()).processes.find(victim);
    if (!target) throw new Error('no such process in the cluster');
    let killed = false;
    let restarted: Promise<unknown> | undefined;
    try {
      const report = await runWorkload({
        topology: t,
        routerUrl: `http://127.0.0.1:${t.deployment.router.port}`,
        gzsUrl: `http://127.0.0.1:${t.deployment.gzs.port}`,
        orders: 150,
        concurrency: 8,
        seed: 11,
        drainTimeoutMs: 30_000,
        keepHistory: true,
        onProgress: (p) => {
          if (!killed && p.done >= killAfter && p.done < p.total) {
            process.kill(target.pid, 'SIGKILL');
            killed = true;
          } else if (killed && !restarted && p.done === p.total) {
            restarted = cluster.up();
          }
        },
      });
      expect(killed, 'the crash happened during the run').toBe(true);
      await restarted;
      const now = (await cluster.status()).processes.find(victim);
      expect(now?.pid, 'up() started it again').not.toBe(target.pid);
      expect(now?.ready).toBe(true);
      return report;
    } finally {
      await restarted?.catch(() => undefined); // never leave up() running into afterAll's down()
    }
  }

  /** The run completed, waited for `waitedFor`, and every check judged the cluster: all ok. */
  function expectJudged(report: WorkloadReport, waitedFor: RegExp): void {
    // figures for the record
    console.log(
      JSON.stringify({
        ops: report.ops,
        errors: report.errors,
        runMs: report.runMs,
        drainMs: report.drain.ms,
        waitedFor: report.drain.waitedFor,
        verdicts: Object.fromEntries(
          Object.entries(report.checks).map(([n, c]) => [
            n,
            `${c.verdict} (${c.checked} checked${c.unjudged ? `, ${c.unjudged} unjudged` : ''})`,
          ]),
        ),
        tables: report.checks.convergence.tables,
      }),
    );
    // every request is one entry of the history; every one that failed carries an EZ_ code
    expect(report.history).toHaveLength(report.ops.total);
    for (const op of report.history!.filter((o) => o.result !== 'ok'))
      expect(op.error, JSON.stringify(op)).toMatch(/^EZ_[A-Z0-9_]+$/);
    for (const code of Object.keys(report.errors)) expect(code).toMatch(/^EZ_[A-Z0-9_]+$/);
    expect(report.drain.timedOut, report.drain.message).toBe(false);
    expect(report.drain.waitedFor.join('; ')).toMatch(waitedFor);
    // every check ran and judged: no acknowledged order lost, every table identical, …
    for (const [name, c] of Object.entries(report.checks)) {
      expect(c.violations, name).toEqual([]);
      expect(c.verdict, `${name}: ${c.reason ?? ''}`).toBe('ok');
    }
    expect(report.checks.noLostOrder.checked).toBeGreaterThan(0);
    expect(report.valid).toBe(true);
  }

  it("survives an eZone's MariaDB killed mid-run and restarted", async () => {
    const report = await runWithCrash((p) => p.kind === 'mariadb' && p.zone === 'ez-sh');
    // ez-sh's orders failed while its database was down: entries of the history, with codes
    expect(report.ops.fail + report.ops.info, 'requests failed during the outage').toBeGreaterThan(0);
    expect(report.servedBy['ez-sh']).toBeGreaterThan(0);
    expectJudged(report, /ez-sh MariaDB/);
  });

  it('judges what is there when the drain times out, and ezctl workload says it could not judge', async () => {
    // ez-sh's MariaDB is down for the whole run and is not back before the drain gives up
    const sh = (await cluster.status()).processes.find((p) => p.kind === 'mariadb' && p.zone === 'ez-sh')!;
    process.kill(sh.pid, 'SIGKILL');
    try {
      const r = await execa(
        'node',
        [
          `${projectRoot()}/bin/run.js`,
          'workload',
          '--orders',
          '20',
          '--drain-timeout',
          '1s',
          '--topology',
          cluster.topologyFile,
          '--json',
        ],
        { reject: false },
      );
      expect(r.exitCode, r.stderr).toBe(1);
      const report = JSON.parse(r.stdout) as WorkloadReport;
      expect(report.drain.timedOut).toBe(true);
      expect(report.drain.message).toMatch(/^drain timed out after [\d.]+ s: ez-sh MariaDB \(/);
      for (const code of Object.keys(report.errors)) expect(code).toMatch(/^EZ_[A-Z0-9_]+$/);
      // what needs ez-sh's rows could not judge; routing (GZS + history) could
      for (const name of ['noLostOrder', 'convergence', 'validLifecycle'] as const)
        expect(report.checks[name], name).toMatchObject({
          verdict: 'unknown',
          reason: expect.stringMatching(/could not read ez-sh/),
        });
      expect(report.checks.routingCorrectness.verdict).toBe('ok');
      expect(report.valid).toBe(false);
      expect(r.stderr).toMatch(/^ezctl: could not judge: noLostOrder: could not read ez-sh/m);
    } finally {
      await cluster.up();
    }
  });

  it('survives GZS killed mid-run and restarted', async () => {
    // routing goes on from the SDK caches: no request needs GZS, but the routing check does
    const report = await runWithCrash((p) => p.kind === 'gzs');
    expectJudged(report, /GZS/);
    expect(report.checks.routingCorrectness.checked).toBe(report.ops.ok);
  });
});
