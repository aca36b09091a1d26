// `ezctl drc status`: replication per direction (state, position, lag, rows/s, conflicts, illegal writes).
import { Flags } from '@oclif/core';
import { EzCommand } from '../../src/cli/command.js';
import { parseDuration, WATCH_INTERVAL } from '../../src/cli/flags.js';
import type { DirectionStatus } from '../../src/drc/inspect.js';

export default class DrcStatus extends EzCommand {
  static override summary =
    'Show every DRC direction: state, position, lag p50/p99, rows/s, conflicts, illegal writes';
  static override description =
    `Asks each replicator's /healthz (the target eZone's host address, port: its ports.drc + index of the
source); a replicator that does not answer shows as "down" with what the target's drc_checkpoint says.
Lag: "now" is the time since the last heartbeat applied (heartbeats every 100 ms), p50/p99 over the
last 60 s. Conflicts and illegal writes are totals from the target's ledgers.

Exit code: 0 when every direction is running or catching up, 1 otherwise.`;

  static override examples = [
    '<%= config.bin %> drc status',
    '<%= config.bin %> drc status --json',
    '<%= config.bin %> drc status --watch --interval 2s',
    '<%= config.bin %> drc status --from ez-bj --to ez-sh',
  ];

  static override flags = {
    from: Flags.string({ description: 'only directions from this eZone' }),
    to: Flags.string({ description: 'only directions into this eZone' }),
    watch: Flags.boolean({ char: 'w', description: 'refresh every --interval until Ctrl-C (or --count)' }),
    interval: Flags.string({ description: 'refresh interval of --watch (e.g. 500ms, 1s)', default: '1s' }),
    count: Flags.integer({ description: 'with --watch: stop after this many refreshes', min: 1 }),
  };

  async run(): Promise<{ directions: DirectionStatus[]; healthy: boolean } | undefined> {
    const { flags } = await this.parse(DrcStatus);
    const intervalMs = parseDuration(flags.interval, '--interval', WATCH_INTERVAL);
    const [{ loadTopology, checkZone }, { drcStatus, formatDrcStatus }] = await Promise.all([
      import('../../src/topology/index.js'),
      import('../../src/drc/index.js'),
    ]);
    const topology = loadTopology(flags.topology);
    if (flags.from) checkZone(topology, '--from', flags.from);
    if (flags.to) checkZone(topology, '--to', flags.to);
    const snapshot = async () => {
      const directions = await drcStatus(topology, { from: flags.from, to: flags.to });
      return { directions, healthy: directions.every((d) => d.healthy) };
    };
    for (let i = 1; ; i++) {
      const s = await snapshot();
      process.exitCode = s.healthy ? 0 : 1;
      if (!flags.watch) {
        if (!this.jsonEnabled()) this.log(formatDrcStatus(s.directions));
        return s;
      }
      if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify(s)}\n`);
      else this.log(`--- ${new Date().toISOString()}\n${formatDrcStatus(s.directions)}\n`);
      if (flags.count !== undefined && i >= flags.count) return undefined;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}
