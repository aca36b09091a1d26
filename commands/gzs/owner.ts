// `ezctl gzs owner`: set a shard's owner directly (a raw table edit; epoch + 1).
import { Args } from '@oclif/core';
import { EzCommand } from '../../src/cli/command.js';
import type { ChangeResult } from '../../src/gzs/api.js';
import { changeFlags } from '../../src/gzs/flags.js';

export default class GzsOwner extends EzCommand {
  static override summary = "Set a shard's owning eZone (epoch + 1); the shard keeps its lock state";
  static override description =
    'A raw table edit: it neither locks the shard nor waits for replication, so writes the old owner ' +
    'accepted but DRC has not yet applied at the new one may be overtaken (and show up in `ezctl drc conflicts`). ' +
    'For a safe move lock the shard first (`ezctl gzs lock`), wait until `ezctl drc status` shows the direction ' +
    'caught up, then set the owner and unlock. Exit codes: 0 done; 2 bad or unknown shard/eZone; 1 refused ' +
    '(token, stale --if-epoch, GZS unreachable).';
  static override examples = ['<%= config.bin %> gzs owner 17 ez-sh --if-epoch 42'];
  static override args = {
    shard: Args.string({ description: 'shard id (0..1023)', required: true }),
    zone: Args.string({ description: 'the new owner eZone', required: true }),
  };
  static override flags = changeFlags;

  async run(): Promise<ChangeResult> {
    const { args, flags } = await this.parse(GzsOwner);
    const { gzsContext, shardArg, formatChange } = await import('../../src/gzs/cli.js');
    const r = await gzsContext(flags).api.setOwner(shardArg(args.shard), args.zone, {
      ifEpoch: flags['if-epoch'],
    });
    this.log(formatChange(r));
    return r;
  }
}
