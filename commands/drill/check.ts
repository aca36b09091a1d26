// `ezctl drill check`: check a stored run again from its files (history.jsonl + the snapshot in results.json).
import { Args } from '@oclif/core';
import type { RunResults } from '../../harness/drill/results.js';
import { EzCommand } from '../../src/cli/command.js';

export default class DrillCheck extends EzCommand {
  static override summary = 'Check a stored drill run again from its history.jsonl (and rewrite its report)';
  static override description =
    `Reads <run-dir>/history.jsonl and the cluster snapshot stored beside it (snapshot.json), runs every
checker again and writes results.json and report.html anew: a run can be re-judged, e.g. with a
fixed checker, without running it again.

Exit codes: 0 every invariant holds; 1 a violation or a check that could not judge; 2 not a run directory.`;
  static override examples = ['<%= config.bin %> drill check runs/partition-heal/latest'];
  static override args = { dir: Args.string({ description: 'the run directory', required: true }) };

  async run(): Promise<RunResults> {
    const { args } = await this.parse(DrillCheck);
    const [{ recheckRun }, { formatResults }] = await Promise.all([
      import('../../harness/drill/results.js'),
      import('../../harness/drill/format.js'),
    ]);
    const r = await recheckRun(args.dir);
    this.log(formatResults(r, args.dir));
    process.exitCode = r.valid ? 0 : 1;
    return r;
  }
}
