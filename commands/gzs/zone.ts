// `ezctl gzs zone`: set an eZone's state, active or down (epoch + 1).
import { Args } from '@oclif/core';
import { EzCommand } from '../../src/cli/command.js';
import type { ChangeResult } from '../../src/gzs/api.js';
import { changeFlags } from '../../src/gzs/flags.js';

export default class GzsZone extends EzCommand {
  static override summary = "Set an eZone's state: active or down (epoch + 1)";
  static override description =
    'Exit codes: 0 done; 2 bad or unknown eZone; 1 refused (token, stale --if-epoch, GZS unreachable).';
  static override examples = [
    '<%= config.bin %> gzs zone ez-bj down',
    '<%= config.bin %> gzs zone ez-bj active --json',
  ];
  static override args = {
    zone: Args.string({ description: 'eZone id', required: true }),
    state: Args.string({ description: 'new state', required: true, options: ['active', 'down'] }),
  };
  static override flags = changeFlags;

  async run(): Promise<ChangeResult> {
    const { args, flags } = await this.parse(GzsZone);
    const { gzsContext, formatChange } = await import('../../src/gzs/cli.js');
    const r = await gzsContext(flags).api.setZoneState(args.zone, args.state as 'active' | 'down', {
      ifEpoch: flags['if-epoch'],
    });
    this.log(formatChange(r));
    return r;
  }
}
