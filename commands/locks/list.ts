// `ezctl locks list`: the order locks in force (a failover's rules per shard, explicit locks, releases).
import { Flags } from '@oclif/core';
import { EzCommand } from '../../src/cli/command.js';
import { gzsFlags } from '../../src/gzs/flags.js';
import type { LockList } from '../../src/switch/index.js';

export default class LocksList extends EzCommand {
  static override summary =
    'List the order locks in force: failover rules per shard, releases, explicit locks';
  static override description =
    `A failover locks every order of the failed eZone's shards made before it (a rule per shard:
the order id carries the time it was made) until that eZone's tail has been applied at the new
owner; DRC clears the rule then. --order tells whether one order is locked and why.

Exit codes: 0 listed; 1 GZS unreachable; 2 bad input.`;
  static override examples = [
    '<%= config.bin %> locks list',
    '<%= config.bin %> locks list --order 7290412234567680001 --json',
  ];
  static override flags = {
    ...gzsFlags,
    order: Flags.string({ description: 'tell whether this order (decimal id) is locked, and why' }),
  };

  async run(): Promise<LockList> {
    const { flags } = await this.parse(LocksList);
    const sw = await import('../../src/switch/index.js');
    const cli = await import('../../src/switch/cli.js');
    const r = await sw.listLocks({ ...cli.switchContext(flags), orderId: flags.order });
    this.log(sw.formatLocks(r));
    return r;
  }
}
