// `ezctl gzs table`: the routing table a running GZS serves.
import { EzCommand } from '../../src/cli/command.js';
import { gzsFlags } from '../../src/gzs/flags.js';
import type { RoutingTable } from '../../src/routing/table.js';

export default class GzsTable extends EzCommand {
  static override summary = 'Show the routing table a running GZS serves: epoch, eZones, shard owners, locks';
  static override examples = [
    '<%= config.bin %> gzs table',
    '<%= config.bin %> gzs table --gzs http://127.0.0.1:27100 --json',
  ];
  static override flags = gzsFlags;

  async run(): Promise<{ url: string; generation: string; epoch: number; table: RoutingTable }> {
    const { flags } = await this.parse(GzsTable);
    const { gzsContext, formatTable } = await import('../../src/gzs/cli.js');
    const r = await gzsContext(flags).api.table();
    this.log(formatTable(r.table, r.url));
    return { url: r.url, generation: r.generation, epoch: r.table.epoch, table: r.table };
  }
}
