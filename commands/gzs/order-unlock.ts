// `ezctl gzs order-unlock`: release an order lock (epoch + 1).
import { Args } from '@oclif/core';
import { EzCommand } from '../../src/cli/command.js';
import type { ChangeResult } from '../../src/gzs/api.js';
import { changeFlags } from '../../src/gzs/flags.js';

export default class GzsOrderUnlock extends EzCommand {
  static override summary = 'Release an order lock (epoch + 1)';
  static override description =
    'Exit codes: 0 done; 2 not an order id, or the order is not locked; 1 refused (token, stale --if-epoch, GZS unreachable).';
  static override examples = ['<%= config.bin %> gzs order-unlock 7290412234567680001'];
  static override args = { orderId: Args.string({ description: 'order id (decimal)', required: true }) };
  static override flags = changeFlags;

  async run(): Promise<ChangeResult> {
    const { args, flags } = await this.parse(GzsOrderUnlock);
    const { gzsContext, formatChange } = await import('../../src/gzs/cli.js');
    const r = await gzsContext(flags).api.unlockOrder(args.orderId, { ifEpoch: flags['if-epoch'] });
    this.log(formatChange(r));
    return r;
  }
}
