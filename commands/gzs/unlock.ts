// `ezctl gzs unlock`: unlock a shard (epoch + 1).
import { Args } from '@oclif/core';
import { EzCommand } from '../../src/cli/command.js';
import type { ChangeResult } from '../../src/gzs/api.js';
import { changeFlags } from '../../src/gzs/flags.js';

export default class GzsUnlock extends EzCommand {
  static override summary = 'Unlock a shard: it serves again at its owner (epoch + 1)';
  static override description =
    'Exit codes: 0 done; 2 bad or unknown shard; 1 refused (token, stale --if-epoch, GZS unreachable).';
  static override examples = [
    '<%= config.bin %> gzs unlock 17',
    '<%= config.bin %> gzs unlock 17 --if-epoch 42',
  ];
  static override args = { shard: Args.string({ description: 'shard id (0..1023)', required: true }) };
  static override flags = changeFlags;

  async run(): Promise<ChangeResult> {
    const { args, flags } = await this.parse(GzsUnlock);
    const { gzsContext, shardArg, formatChange } = await import('../../src/gzs/cli.js');
    const r = await gzsContext(flags).api.unlock(shardArg(args.shard), { ifEpoch: flags['if-epoch'] });
    this.log(formatChange(r));
    return r;
  }
}
