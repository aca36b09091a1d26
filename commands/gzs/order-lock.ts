// `ezctl gzs order-lock`: lock one order at order level (epoch + 1).
import { Args, Flags } from '@oclif/core';
import { EzCommand } from '../../src/cli/command.js';
import type { ChangeResult } from '../../src/gzs/api.js';
import { changeFlags } from '../../src/gzs/flags.js';

export default class GzsOrderLock extends EzCommand {
  static override summary =
    'Lock one order (DESIGN §6 failover): its writes are held until it is unlocked (epoch + 1)';
  static override description =
    'Exit codes: 0 done; 2 not an order id; 1 refused (token, stale --if-epoch, GZS unreachable).';
  static override examples = [
    '<%= config.bin %> gzs order-lock 7290412234567680001 --reason "ez-bj failover"',
  ];
  static override args = { orderId: Args.string({ description: 'order id (decimal)', required: true }) };
  static override flags = {
    ...changeFlags,
    reason: Flags.string({ description: 'why (kept with the lock)', default: 'locked by an operator' }),
  };

  async run(): Promise<ChangeResult> {
    const { args, flags } = await this.parse(GzsOrderLock);
    const { gzsContext, formatChange } = await import('../../src/gzs/cli.js');
    const r = await gzsContext(flags).api.lockOrder(args.orderId, flags.reason, {
      ifEpoch: flags['if-epoch'],
    });
    this.log(formatChange(r));
    return r;
  }
}
