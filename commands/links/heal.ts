// `ezctl links heal`: remove the faults of links (their base latency stays).
import { Args } from '@oclif/core';
import { EzCommand } from '../../src/cli/command.js';
import { toxiproxyFlag } from '../../src/links/flags.js';
import type { FaultResult } from '../../src/links/link-set.js';

export default class LinksHeal extends EzCommand {
  static override summary =
    'Remove the faults ezctl applied: every link, or those of an eZone pair or an eZone';
  static override examples = [
    '<%= config.bin %> links heal',
    '<%= config.bin %> links heal ez-bj ez-sh',
    "<%= config.bin %> links heal ez-bj '*'",
  ];
  static override args = {
    from: Args.string({ description: 'eZone (default: all links)' }),
    to: Args.string({ description: 'the other eZone, or * (default *)' }),
  };
  static override flags = { toxiproxy: toxiproxyFlag };

  async run(): Promise<FaultResult & { url: string }> {
    const { args, flags } = await this.parse(LinksHeal);
    const [{ linksContext }, { checkPair, LinkSet }] = await Promise.all([
      import('../../src/links/cli.js'),
      import('../../src/links/index.js'),
    ]);
    const { topology, url } = linksContext(flags);
    if (args.from) checkPair(topology, args.from, args.to ?? '*');
    const set = await LinkSet.attach({ toxiproxy: url, topology });
    const result = await set.heal(args.from, args.from ? (args.to ?? '*') : '*');
    if (!this.jsonEnabled()) this.log(`healed: ${result.links.join(', ') || '(no links)'}`);
    return { url, ...result };
  }
}
