// `ezctl logs <part>`: a part's log from whichever host runs it (tail, or --follow).
import { Args, Flags } from '@oclif/core';
import { EzCommand } from '../src/cli/command.js';
import { clusterFlags } from '../src/cli/flags.js';
import type { PartLog } from '../src/launch/hosts-cli.js';

export default class Logs extends EzCommand {
  static override summary = "Show a part's log from wherever it runs (this machine or a remote host)";
  static override description =
    `PART is a recorded process name as \`ezctl status\` shows it (mariadb@ez-bj, drc@ez-bj<-ez-sh, gzs) or a kind (mariadb, orders, dal, …) with --zone. The log is read on the part's host (over its ssh connection for a remote one).

Exit code: 0; 1 when the cluster has no such process recorded or its host cannot be reached; 2 for a bad argument.`;
  static override examples = [
    '<%= config.bin %> logs gzs',
    '<%= config.bin %> logs mariadb --zone ez-sh -n 50',
    "<%= config.bin %> logs 'drc@ez-bj<-ez-sh' --follow",
  ];
  static override args = {
    part: Args.string({ description: 'process name (mariadb@ez-bj) or kind (with --zone)', required: true }),
  };
  static override flags = {
    ...clusterFlags,
    zone: Flags.string({ char: 'z', description: 'the eZone of the part (with a kind)' }),
    lines: Flags.integer({
      char: 'n',
      description: 'how many of the last lines',
      default: 100,
      min: 1,
      max: 100_000,
    }),
    follow: Flags.boolean({
      char: 'f',
      description: 'keep printing new lines until Ctrl-C (--json: one JSON line each)',
    }),
  };

  async run(): Promise<PartLog | undefined> {
    const { args, flags } = await this.parse(Logs);
    const [{ loadTopology }, { findPart, partLog, followLog }] = await Promise.all([
      import('../src/topology/index.js'),
      import('../src/launch/hosts-cli.js'),
    ]);
    const topology = loadTopology(flags.topology);
    const rec = findPart(topology, flags['state-dir'], args.part, flags.zone);
    if (!flags.follow) {
      const log = await partLog(topology, rec, flags.lines);
      if (!this.jsonEnabled()) for (const l of log.lines) this.log(l);
      return log;
    }
    const stop = new AbortController();
    const onSignal = (): void => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    await followLog(
      topology,
      rec,
      flags.lines,
      (line) =>
        process.stdout.write(
          this.jsonEnabled() ? `${JSON.stringify({ name: rec.name, line })}\n` : `${line}\n`,
        ),
      stop.signal,
    );
    return undefined;
  }
}
