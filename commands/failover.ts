// `ezctl failover`: move every shard of a down eZone to another, only when it is down as seen from outside.
import { Flags } from '@oclif/core';
import { EzCommand } from '../src/cli/command.js';
import { parseDuration } from '../src/cli/flags.js';
import { changeFlags } from '../src/gzs/flags.js';
import type { FailoverReport } from '../src/switch/index.js';

export default class Failover extends EzCommand {
  static override summary =
    'Emergency failover: every shard of a down eZone to another, in one epoch, with order-level locks';
  static override description =
    `Never on a network failure alone: --from counts as down only when APIRouter's probe
gets no answer from it AND GZS hears from none of its holders, both for --down-after. When only the
links between eZones are cut (each eZone keeps serving its own shards), it refuses (exit 1) and
says what it saw, unless --force, which prints what it risks.

Then all of --from's shards move to --to at once (one epoch; --from marked down). Every order of
those shards created before that moment is locked at order level (a rule per shard: --from may
have changed it after --to's last applied position); new orders proceed at once. The locks clear
by themselves once DRC has applied --from's tail at --to (ezctl locks list / release).

--when-down waits (up to its duration) for the verdict, then fails over: for drills and RTO.

Exit codes: 0 failed over; 1 refused; 2 bad input.`;
  static override examples = [
    '<%= config.bin %> failover --from ez-sh --to ez-bj',
    '<%= config.bin %> failover --from ez-sh --to ez-bj --when-down 60s --json',
    '<%= config.bin %> failover --from ez-sh --to ez-bj --force',
  ];
  static override flags = {
    ...changeFlags,
    from: Flags.string({ description: 'the eZone that is down', required: true }),
    to: Flags.string({ description: 'the eZone that takes its shards', required: true }),
    'down-after': Flags.string({ description: 'how long it must look down from outside', default: '3s' }),
    'when-down': Flags.string({ description: 'wait up to this long for the verdict, then fail over' }),
    force: Flags.boolean({ description: 'fail over without the outside-in verdict (prints what it risks)' }),
  };

  async run(): Promise<FailoverReport> {
    const { flags } = await this.parse(Failover);
    const sw = await import('../src/switch/index.js');
    const cli = await import('../src/switch/cli.js');
    const ctx = cli.switchContext(flags);
    const r = await sw.runFailover({
      ...ctx,
      from: flags.from,
      to: flags.to,
      downAfterMs: parseDuration(flags['down-after'], '--down-after', { min: 0, max: 3_600_000 }),
      whenDownMs: flags['when-down']
        ? parseDuration(flags['when-down'], '--when-down', { min: 0, max: 86_400_000 })
        : undefined,
      force: flags.force,
      onProgress: cli.progressLine,
    });
    this.log(cli.formatFailover(r));
    process.exitCode = r.outcome === 'failed-over' ? 0 : 1;
    return r;
  }
}
