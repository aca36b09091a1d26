// `ezctl locks release`: release one order from its lock before the rule clears (recorded in GZS history).
import { Flags } from '@oclif/core';
import { EzCommand } from '../../src/cli/command.js';
import type { ChangeResult } from '../../src/gzs/api.js';
import { changeFlags } from '../../src/gzs/flags.js';

export default class LocksRelease extends EzCommand {
  static override summary =
    'Release one order from its order lock (epoch + 1; the reason is kept in GZS history)';
  static override description =
    `Releasing an order that the failed eZone may still have changed risks processing it twice:
do it only once you know its state there (e.g. from the eZone's database or the customer).

Exit codes: 0 released; 1 refused (token, GZS unreachable); 2 bad input or the order is not locked.`;
  static override examples = [
    '<%= config.bin %> locks release --order 7290412234567680001 --reason "refunded by support, ticket 4711"',
  ];
  static override flags = {
    ...changeFlags,
    order: Flags.string({ description: 'the order id (decimal)', required: true }),
    reason: Flags.string({ description: 'why (kept in GZS history)', required: true }),
  };

  async run(): Promise<ChangeResult> {
    const { flags } = await this.parse(LocksRelease);
    const sw = await import('../../src/switch/index.js');
    const cli = await import('../../src/switch/cli.js');
    const { formatChange } = await import('../../src/gzs/cli.js');
    const r = await sw.releaseLock({
      ...cli.switchContext(flags),
      orderId: flags.order,
      reason: flags.reason,
      ifEpoch: flags['if-epoch'],
    });
    this.log(formatChange(r));
    return r;
  }
}
