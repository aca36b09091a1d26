// `ezctl drill run`: one chaos drill on the cluster (links, workload, nemesis schedule), then every invariant checked.
import { Args, Flags } from '@oclif/core';
import type { DrillRun } from '../../harness/drill/run.js';
import { EzCommand } from '../../src/cli/command.js';
import { parseDuration } from '../../src/cli/flags.js';

export default class DrillRunCommand extends EzCommand {
  static override summary = 'Run a chaos drill: workload + faults on the cluster, then check every invariant';
  static override description =
    `Brings the cluster up on links (or reuses it), runs the drill file's workload through APIRouter and its
nemesis schedule (partitions, eZone kills, failover, moves, …) for its duration, stops every fault,
drains, reads every eZone and checks DESIGN §7's invariants. The run is stored under
runs/<drill>/<timestamp>/ (history.jsonl, results.json, report.html; runs/<drill>/latest).

Exit codes: 0 every invariant holds; 1 a violation, or a check that could not judge; 2 the drill could not run (bad file, cluster).`;
  static override examples = [
    '<%= config.bin %> drill run fixtures/drills/partition-heal.yaml',
    '<%= config.bin %> drill run fixtures/drills/zone-kill-failover.yaml --seed 7 --duration 30s --json',
  ];
  static override args = { file: Args.string({ description: 'the drill file (YAML)', required: true }) };
  static override flags = {
    seed: Flags.integer({ description: "the generator's seed [default: the drill's]", min: 0 }),
    duration: Flags.string({ description: "how long the workload runs [default: the drill's]" }),
    'runs-dir': Flags.string({ description: 'where runs are stored', default: 'runs' }),
    'state-dir': Flags.string({
      description: "the cluster's state directory (as ezctl up)",
      env: 'EZCTL_HOME',
    }),
  };

  async run(): Promise<DrillRun['results'] & { runDir: string }> {
    const { args, flags } = await this.parse(DrillRunCommand);
    const [{ loadDrill }, { runDrill }, { formatResults, progressLine }] = await Promise.all([
      import('../../harness/drill/spec.js'),
      import('../../harness/drill/run.js'),
      import('../../harness/drill/format.js'),
    ]);
    const drill = loadDrill(args.file);
    const r = await runDrill({
      drill,
      seed: flags.seed,
      durationMs: flags.duration
        ? parseDuration(flags.duration, '--duration', { min: 1000, max: 3_600_000 })
        : undefined,
      runsDir: flags['runs-dir'],
      stateDir: flags['state-dir'],
      topology: flags.topology
        ? (await import('../../src/topology/index.js')).loadTopology(flags.topology)
        : undefined,
      // a terminal gets one line redrawn in place; a log gets one line per second
      onProgress: (p) =>
        process.stderr.write(
          process.stderr.isTTY
            ? `\r\x1b[K${progressLine(p).trimEnd()}${p.phase === 'done' ? '\n' : ''}`
            : progressLine(p),
        ),
    });
    this.log(formatResults(r.results, r.runDir));
    process.exitCode = r.exitCode;
    return { ...r.results, runDir: r.runDir };
  }
}
