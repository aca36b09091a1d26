// `ezctl dal status`: each eZone's DAL — serving or not, epoch held and acknowledged, sessions, open transactions.
import { Flags } from '@oclif/core';
import { EzCommand } from '../../src/cli/command.js';
import { parseDuration, WATCH_INTERVAL } from '../../src/cli/flags.js';
import type { DalStatus } from '../../src/dal/index.js';

export default class DalStatusCommand extends EzCommand {
  static override summary =
    "Show every eZone's DAL: serving, epoch held/acknowledged, sessions, open transactions, plan-cache hits";
  static override description =
    `Asks each DAL's /healthz (the eZone's host address, port: the eZone's ports.dalHttp).
STATE: serving (writes judged at GZS's table), cache (GZS unreachable since start: writes judged at
the SDK cache file's table), not-ready (no table yet: writes refused with EZ_NOT_READY), down (no
answer). EPOCH/ACKED: the epoch held and the one acknowledged to GZS; "(fencing N)" while N
sessions still have a transaction on a shard the newest epoch locks or moves away.

Exit code: 0 when every DAL shown is serving (or on cache or a static table), 1 otherwise.`;

  static override examples = [
    '<%= config.bin %> dal status',
    '<%= config.bin %> dal status --zone ez-sh --json',
    '<%= config.bin %> dal status --watch --interval 2s',
  ];

  static override flags = {
    zone: Flags.string({ description: 'only the DAL of this eZone' }),
    watch: Flags.boolean({ char: 'w', description: 'refresh every --interval until Ctrl-C (or --count)' }),
    interval: Flags.string({ description: 'refresh interval of --watch (e.g. 500ms, 1s)', default: '1s' }),
    count: Flags.integer({ description: 'with --watch: stop after this many refreshes', min: 1 }),
  };

  async run(): Promise<{ dals: DalStatus[]; healthy: boolean } | undefined> {
    const { flags } = await this.parse(DalStatusCommand);
    const intervalMs = parseDuration(flags.interval, '--interval', WATCH_INTERVAL);
    const [{ loadTopology, checkZone }, { dalStatus, formatDalStatus }] = await Promise.all([
      import('../../src/topology/index.js'),
      import('../../src/dal/index.js'),
    ]);
    const topology = loadTopology(flags.topology);
    if (flags.zone) checkZone(topology, '--zone', flags.zone);
    for (let i = 1; ; i++) {
      const dals = await dalStatus(topology, { zone: flags.zone });
      const s = { dals, healthy: dals.every((d) => d.healthy) };
      process.exitCode = s.healthy ? 0 : 1;
      if (!flags.watch) {
        if (!this.jsonEnabled()) this.log(formatDalStatus(dals));
        return s;
      }
      if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify(s)}\n`);
      else this.log(`--- ${new Date().toISOString()}\n${formatDalStatus(dals)}\n`);
      if (flags.count !== undefined && i >= flags.count) return undefined;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}
