// `ezctl switch status`: shards in motion, the journal, order locks, DRC lag, holders behind.
import { Flags } from '@oclif/core';
import { EzCommand } from '../../src/cli/command.js';
import { parseDuration, WATCH_INTERVAL } from '../../src/cli/flags.js';
import { gzsFlags } from '../../src/gzs/flags.js';
import type { SwitchStatus } from '../../src/switch/index.js';

export default class SwitchStatusCommand extends EzCommand {
  static override summary =
    'Show what is in motion: open switches and their step, locks, DRC lag, holders behind';
  static override description =
    `Reads GZS's journal (open switches, the last ended ones), the locked shards and order
locks of its table, its acknowledgements, and every DRC direction's lag. --watch refreshes every
--interval until Ctrl-C (a live view on a terminal).

Exit code: 0 when nothing is in motion, 1 when a switch is open or a shard locked.`;
  static override examples = [
    '<%= config.bin %> switch status',
    '<%= config.bin %> switch status --watch --interval 500ms',
  ];
  static override flags = {
    ...gzsFlags,
    watch: Flags.boolean({ char: 'w', description: 'refresh every --interval until Ctrl-C (or --count)' }),
    interval: Flags.string({ description: 'refresh interval of --watch', default: '1s' }),
    count: Flags.integer({ description: 'with --watch: stop after this many refreshes', min: 1 }),
  };

  async run(): Promise<SwitchStatus | undefined> {
    const { flags } = await this.parse(SwitchStatusCommand);
    const intervalMs = parseDuration(flags.interval, '--interval', WATCH_INTERVAL);
    const sw = await import('../../src/switch/index.js');
    const cli = await import('../../src/switch/cli.js');
    const ctx = cli.switchContext(flags);
    const live = flags.watch && process.stdout.isTTY && !this.jsonEnabled();
    for (let i = 1; ; i++) {
      const s = await sw.switchStatus(ctx);
      process.exitCode = s.quiet ? 0 : 1;
      if (!flags.watch) {
        if (!this.jsonEnabled()) this.log(sw.formatSwitchStatus(s));
        return s;
      }
      if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify(s)}\n`);
      // a live view on a terminal: redraw in place (clear screen, home)
      else if (live)
        process.stdout.write(`\x1b[2J\x1b[H${new Date().toISOString()}\n${sw.formatSwitchStatus(s)}\n`);
      else this.log(`--- ${new Date().toISOString()}\n${sw.formatSwitchStatus(s)}\n`);
      if (flags.count !== undefined && i >= flags.count) return undefined;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}
