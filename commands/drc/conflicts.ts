// `ezctl drc conflicts`: the last-writer-wins ledger of every eZone.
import { Flags } from '@oclif/core';
import { EzCommand } from '../../src/cli/command.js';
import type { ConflictRow } from '../../src/drc/inspect.js';

export default class DrcConflicts extends EzCommand {
  static override summary =
    "List the newest last-writer-wins conflicts from every eZone's drc_conflicts ledger";
  static override description =
    `Each eZone records the conflicts its replicators met: the incoming change and the row it found
(both images, as JSON with --json), the winner by (updated_at, origin eZone), the reason and the
source GTID. Newest first, merged across eZones.`;

  static override examples = [
    '<%= config.bin %> drc conflicts',
    '<%= config.bin %> drc conflicts --limit 5 --json',
    '<%= config.bin %> drc conflicts --zone ez-sh --table orders',
  ];

  static override flags = {
    limit: Flags.integer({ description: 'at most this many', default: 20, min: 1, max: 10_000 }),
    zone: Flags.string({ description: 'only the ledger of this eZone' }),
    table: Flags.string({ description: 'only conflicts on this table' }),
  };

  async run(): Promise<{ conflicts: ConflictRow[] }> {
    const { flags } = await this.parse(DrcConflicts);
    const [{ loadTopology, checkZone }, { listConflicts, formatConflicts }, { UsageError }] =
      await Promise.all([
        import('../../src/topology/index.js'),
        import('../../src/drc/index.js'),
        import('../../src/util/errors.js'),
      ]);
    const topology = loadTopology(flags.topology);
    if (flags.zone) checkZone(topology, '--zone', flags.zone);
    if (flags.table && !topology.tables.some((t) => t.name === flags.table))
      throw new UsageError(
        `--table ${flags.table}: not a replicated table (known: ${topology.tables.map((t) => t.name).join(', ')})`,
      );
    const conflicts = await listConflicts(topology, {
      limit: flags.limit,
      zone: flags.zone,
      table: flags.table,
    });
    if (!this.jsonEnabled()) this.log(formatConflicts(conflicts));
    return { conflicts };
  }
}
