// `ezctl gzs lock`: lock a shard (epoch + 1).
import { Args, Flags } from '@oclif/core';
import { EzCommand } from '../../src/cli/command.js';
import type { ChangeResult } from '../../src/gzs/api.js';
import { changeFlags } from '../../src/gzs/flags.js';

export default class GzsLock extends EzCommand {
  static override summary = 'Lock a shard: APIRouter holds its requests, DAL holds its writes (epoch + 1)';
  static override description =
    'Exit codes: 0 done; 2 bad or unknown shard; 1 refused (token, stale --if-epoch, GZS unreachable).';
  static override examples = [
    '<%= config.bin %> gzs lock 17 --reason "move to ez-sh"',
    '<%= config.bin %> gzs lock 17 --if-epoch 41 --json',
  ];
  static override args = { shard: Args.string({ description: 'shard id (0..1023)', required: true }) };
  static override flags = {
    ...changeFlags,
    reason: Flags.string({ description: 'why (kept in the history)' }),
  };

  async run(): Promise<ChangeResult> {
    const { args, flags } = await this.parse(GzsLock);
    const { gzsContext, shardArg, formatChange } = await import('../../src/gzs/cli.js');
    const shard = shardArg(args.shard);
    const r = await gzsContext(flags).api.lock(shard, { reason: flags.reason, ifEpoch: flags['if-epoch'] });
    this.log(formatChange(r));
    return r;
  }
}
