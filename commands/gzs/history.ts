// `ezctl gzs history`: the changes GZS accepted, newest last.
import { Flags } from '@oclif/core';
import { EzCommand } from '../../src/cli/command.js';
import type { HistoryResult } from '../../src/gzs/api.js';
import { gzsFlags } from '../../src/gzs/flags.js';

export default class GzsHistory extends EzCommand {
  static override summary = 'List the changes GZS accepted: epoch, time, who, what (a bounded history)';
  static override examples = [
    '<%= config.bin %> gzs history',
    '<%= config.bin %> gzs history --since 40 --json',
  ];
  static override flags = {
    ...gzsFlags,
    since: Flags.integer({ description: 'only epochs after this one', min: 0, default: 0 }),
    limit: Flags.integer({ description: 'at most this many (the newest)', min: 1 }),
  };

  async run(): Promise<HistoryResult> {
    const { flags } = await this.parse(GzsHistory);
    const { gzsContext, formatHistory } = await import('../../src/gzs/cli.js');
    const r = await gzsContext(flags).api.history(flags.since, flags.limit);
    this.log(formatHistory(r));
    return r;
  }
}
