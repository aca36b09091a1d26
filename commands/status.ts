// `ezctl status`: every recorded process, alive and ready or not; exit 1 unless the cluster is whole.
import { Flags } from '@oclif/core';
import { EzCommand } from '../src/cli/command.js';
import { clusterFlags, parseDuration, WATCH_INTERVAL } from '../src/cli/flags.js';
import type { ClusterStatus } from '../src/launch/cluster.js';

export default class Status extends EzCommand {
  static override summary = 'Show every recorded process: pid, alive, ready, port, uptime';
  static override description =
    `Reads <state-dir>/<cluster>/state.json and checks each process: alive (its pid runs and is the process that was started, not a recycled pid) and ready (the kind's own probe, e.g. mariadb-admin ping, Redis PING, ZooKeeper ruok).

Exit code: 0 when processes are recorded and every one is alive and ready; 1 when any is not, or when the cluster is not running at all (nothing recorded, e.g. a mistyped --state-dir: running false in --json), so scripts can wait on it. --watch redraws every --interval (a live view on a terminal, a plain snapshot per interval otherwise) until Ctrl-C or --count snapshots.`;

  static override examples = [
    '<%= config.bin %> status',
    '<%= config.bin %> status --json',
    '<%= config.bin %> status --watch --interval 2s',
    'until <%= config.bin %> status >/dev/null; do sleep 1; done',
  ];

  static override flags = {
    ...clusterFlags,
    watch: Flags.boolean({ char: 'w', description: 'keep refreshing (live view on a terminal)' }),
    interval: Flags.string({
      description: 'refresh interval of --watch (e.g. 500ms, 1s, 2m)',
      default: '1s',
    }),
    count: Flags.integer({ description: 'with --watch: stop after this many refreshes', min: 1 }),
  };

  async run(): Promise<ClusterStatus | undefined> {
    const { flags } = await this.parse(Status);
    const intervalMs = parseDuration(flags.interval, '--interval', WATCH_INTERVAL);
    const [{ loadTopology }, { status }, { formatStatus }] = await Promise.all([
      import('../src/topology/index.js'),
      import('../src/launch/cluster.js'),
      import('../src/launch/format.js'),
    ]);
    const topology = loadTopology(flags.topology);
    const snapshot = (): Promise<ClusterStatus> => status(topology, { stateDir: flags['state-dir'] });
    let result: ClusterStatus;
    if (!flags.watch) {
      result = await snapshot();
      this.log(formatStatus(result));
    } else if (process.stdout.isTTY && !this.jsonEnabled()) {
      // ink costs ~0.45 s to import: only for the live view
      const { watchStatus } = await import('../src/launch/status-view.js');
      result = await watchStatus(snapshot, { intervalMs, count: flags.count });
    } else {
      result = await this.plainWatch(snapshot, intervalMs, flags.count, formatStatus);
    }
    if (!result.healthy) process.exitCode = 1;
    // --watch --json already printed one line per snapshot
    return flags.watch && this.jsonEnabled() ? undefined : result;
  }

  /**
   * Not a terminal: one plain snapshot per interval. With --json, one compact JSON line per
   * snapshot (the command then returns nothing, so oclif prints no extra document).
   */
  private async plainWatch(
    snapshot: () => Promise<ClusterStatus>,
    intervalMs: number,
    count: number | undefined,
    format: (s: ClusterStatus) => string,
  ): Promise<ClusterStatus> {
    for (let i = 1; ; i++) {
      const s = await snapshot();
      if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify(s)}\n`);
      else this.log(`--- ${new Date().toISOString()}\n${format(s)}\n`);
      if (count !== undefined && i >= count) return s;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}
