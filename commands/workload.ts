// `ezctl workload`: orders through the running cluster, then the checks of DESIGN §7 on the history.
import { Flags } from '@oclif/core';
import type { WorkloadReport } from '../harness/workload/run.js';
import { EzCommand } from '../src/cli/command.js';
import { parseDuration } from '../src/cli/flags.js';

export default class Workload extends EzCommand {
  static override summary =
    'Run orders through the running cluster, then check that none was lost, diverged or misrouted';
  static override description =
    `Places orders at random points all over the country through APIRouter and takes each through its life (accept, pick up, deliver; some are cancelled), recording every request and answer. A request that fails is recorded (refused, or unknown outcome, with its EZ_ code) and the run goes on. When the run is over it waits, up to --drain-timeout, for the cluster to be whole again (every eZone's MariaDB and GZS answer, every replicated table identical in every eZone), then checks the recorded history against every eZone's database: no acknowledged order lost, every eZone identical, every order's acknowledged states a valid path with no step applied twice, every acknowledged request served by the owner of its shard at the epoch it carried.

Exit code 1 when a check fails, and also when a check could not judge (it examined nothing, or could not read what it covers): the reason follows "could not judge:".`;

  static override examples = [
    '<%= config.bin %> workload',
    '<%= config.bin %> workload --orders 2000 --concurrency 32 --json',
  ];

  static override flags = {
    orders: Flags.integer({
      description: 'orders to run through their life',
      default: 200,
      min: 1,
      max: 1_000_000,
    }),
    concurrency: Flags.integer({ description: 'orders in flight at once', default: 16, min: 1, max: 1024 }),
    seed: Flags.integer({
      description: 'seed of the generator (same seed, same points and plans)',
      default: 1,
    }),
    'drain-timeout': Flags.string({
      description:
        'how long to wait after the run for every MariaDB and GZS to answer and every eZone to hold the same rows (the checks run anyway when it is up)',
      default: '30s',
    }),
    history: Flags.boolean({
      description: 'put every recorded request in the report (see it with --json)',
      default: false,
    }),
    router: Flags.string({ description: 'APIRouter URL [default: from the topology]' }),
    gzs: Flags.string({ description: 'GZS URL [default: from the topology]' }),
  };

  async run(): Promise<WorkloadReport> {
    const { flags } = await this.parse(Workload);
    const drainTimeoutMs = parseDuration(flags['drain-timeout'], '--drain-timeout', {
      min: 0,
      max: 3_600_000,
    });
    const [{ loadTopology, controlGzsUrl, controlRouterUrl }, { runWorkload }, { formatWorkload }] =
      await Promise.all([
        import('../src/topology/index.js'),
        import('../harness/workload/run.js'),
        import('../harness/workload/format.js'),
      ]);
    const topology = loadTopology(flags.topology);
    const report = await runWorkload({
      topology,
      routerUrl: flags.router ?? controlRouterUrl(topology),
      gzsUrl: flags.gzs ?? controlGzsUrl(topology),
      orders: flags.orders,
      concurrency: flags.concurrency,
      seed: flags.seed,
      drainTimeoutMs,
      keepHistory: flags.history,
      onProgress: (p) =>
        process.stderr.write(
          `workload: ${p.done}/${p.total} orders, requests ok ${p.ok} fail ${p.fail} unknown ${p.info}\n`,
        ),
      onDrainWait: (notWhole) =>
        process.stderr.write(`workload: drain: waiting for ${notWhole.join('; ')}\n`),
    });
    this.log(formatWorkload(report));
    // exit 1 when a check failed, and also when one could not judge: a run nobody could judge
    // proves nothing
    const unjudged = Object.entries(report.checks).filter(([, c]) => c.verdict === 'unknown');
    if (unjudged.length > 0)
      process.stderr.write(
        `ezctl: could not judge: ${unjudged.map(([name, c]) => `${name}: ${c.reason}`).join('; ')}\n`,
      );
    if (!report.valid) process.exitCode = 1;
    return report;
  }
}
