// `ezctl drc resume`: let a DRC direction stopped at a DDL go on, stepping over that DDL.
import { Flags } from '@oclif/core';
import { EzCommand } from '../../src/cli/command.js';

export default class DrcResume extends EzCommand {
  static override summary = 'Resume a DRC direction stopped at a DDL, stepping over that DDL';
  static override description =
    `DRC does not replicate DDL on replicated tables: the direction stops before it (state
"stopped", the DDL and its GTID in \`ezctl drc status\`). Apply the same change in the target eZone
yourself, then run this: the replicator steps over the stopped transaction and goes on.`;

  static override examples = ['<%= config.bin %> drc resume --from ez-bj --to ez-sh'];

  static override flags = {
    from: Flags.string({ description: 'source eZone of the stopped direction', required: true }),
    to: Flags.string({ description: 'target eZone of the stopped direction', required: true }),
    gtid: Flags.string({ description: 'only if it is stopped at this GTID (a safety check)' }),
  };

  async run(): Promise<{ from: string; to: string; skipped: string }> {
    const { flags } = await this.parse(DrcResume);
    const [{ loadTopology }, { resumeDirection }] = await Promise.all([
      import('../../src/topology/index.js'),
      import('../../src/drc/inspect.js'),
    ]);
    const r = await resumeDirection(loadTopology(flags.topology), flags.from, flags.to, flags.gtid);
    if (!this.jsonEnabled())
      this.log(`${r.from} -> ${r.to}: will step over ${r.skipped} and go on (within ~1 s)`);
    return r;
  }
}
