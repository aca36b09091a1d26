// `ezctl links fault`: slow or cut the links between two sites (or all of one eZone's).
import { Args } from '@oclif/core';
import { EzCommand } from '../../src/cli/command.js';
import { FAULT_GRAMMAR, parseFault } from '../../src/links/fault.js';
import { toxiproxyFlag } from '../../src/links/flags.js';
import type { FaultResult } from '../../src/links/link-set.js';
import { UsageError } from '../../src/util/errors.js';

export default class LinksFault extends EzCommand {
  static override summary =
    'Apply a fault to the links between two eZones (both directions) or of a whole eZone';
  static override description =
    `Fault: ${FAULT_GRAMMAR}. "slow 30ms" is a 30 ms round trip (15 ms each way, connection set-up included). <to> may be * for every link of <from>.`;
  static override examples = [
    '<%= config.bin %> links fault ez-bj ez-sh slow 30ms',
    '<%= config.bin %> links fault ez-bj ez-sh partition stall',
    "<%= config.bin %> links fault ez-bj '*' partition refuse",
    '<%= config.bin %> links fault ez-bj ez-sh heal',
  ];
  static override strict = false;
  static override usage = 'links fault FROM TO|* FAULT... [--toxiproxy URL] [--json]';
  static override args = {
    from: Args.string({ description: 'eZone', required: true }),
    to: Args.string({ description: 'the other eZone, or * for all links of <from>', required: true }),
    fault: Args.string({ description: FAULT_GRAMMAR, required: true }),
  };
  static override flags = { toxiproxy: toxiproxyFlag };

  async run(): Promise<FaultResult & { url: string }> {
    const { args, argv, flags } = await this.parse(LinksFault);
    const words = (argv as string[]).slice(2);
    if (words.length === 0) throw new UsageError(`missing fault: expected ${FAULT_GRAMMAR}`);
    const fault = parseFault(words);
    const [{ linksContext }, { checkPair, LinkSet }] = await Promise.all([
      import('../../src/links/cli.js'),
      import('../../src/links/index.js'),
    ]);
    const { topology, url } = linksContext(flags);
    checkPair(topology, args.from, args.to);
    const set = await LinkSet.attach({ toxiproxy: url, topology });
    const result = await set.fault(args.from, args.to, fault);
    if (!this.jsonEnabled()) this.log(`${result.fault}: ${result.links.join(', ')}`);
    return { url, ...result };
  }
}
