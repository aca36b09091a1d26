// `ezctl gzs acks`: which holders acknowledged an epoch (DESIGN §6 step 1), optionally waiting for all.
import { Flags } from '@oclif/core';
import { EzCommand } from '../../src/cli/command.js';
import { parseDuration } from '../../src/cli/flags.js';
import { gzsFlags } from '../../src/gzs/flags.js';
import type { AckReport } from '../../src/shared/gzs-protocol.js';

export default class GzsAcks extends EzCommand {
  static override summary =
    'Show which holders (SDKs) hold which epoch, and whether all live ones hold an epoch';
  static override description =
    'A holder is live while its lease runs (it heartbeats every ~1 s; the lease is 3 s by default); a holder ' +
    'whose lease expired does not block (DESIGN §6 step 1). Exit code 0 when every live holder holds the epoch ' +
    '(default: the current one), 1 when not (also when GZS started less than one lease ago), so scripts can wait on it.';
  static override examples = [
    '<%= config.bin %> gzs acks',
    '<%= config.bin %> gzs acks --epoch 42 --wait 5s',
    '<%= config.bin %> gzs acks --json',
  ];
  static override flags = {
    ...gzsFlags,
    epoch: Flags.integer({ description: 'the epoch to check [default: the current one]', min: 0 }),
    wait: Flags.string({ description: 'wait up to this long for all live holders to acknowledge (e.g. 5s)' }),
  };

  async run(): Promise<AckReport> {
    const { flags } = await this.parse(GzsAcks);
    const waitMs = flags.wait ? parseDuration(flags.wait, '--wait', { min: 1, max: 60_000 }) : undefined;
    const { gzsContext, formatAcks } = await import('../../src/gzs/cli.js');
    const r = await gzsContext(flags).api.acks(flags.epoch, waitMs);
    this.log(formatAcks(r));
    if (!r.allAcked) process.exitCode = 1;
    return r;
  }
}
