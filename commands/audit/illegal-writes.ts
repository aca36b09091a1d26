// `ezctl audit illegal-writes`: writes an eZone accepted for a shard it did not own at the time (DRC's report).
import { Flags } from '@oclif/core';
import { EzCommand } from '../../src/cli/command.js';
import type { IllegalWriteRow } from '../../src/drc/inspect.js';

export default class AuditIllegalWrites extends EzCommand {
  static override summary =
    'List writes made by an eZone that did not own the shard (or the Global Zone) at the time';
  static override description =
    `DRC checks every replicated row against shard ownership at the time of the write (GZS's ownership
history, with a grace window after a switch for clock skew) and records violations
in each receiving eZone's drc_illegal_writes. This merges the reports of all eZones.

Exit code: 0 when none is recorded, 1 when there are illegal writes.`;

  static override examples = [
    '<%= config.bin %> audit illegal-writes',
    '<%= config.bin %> audit illegal-writes --origin ez-sh --json',
  ];

  static override flags = {
    limit: Flags.integer({ description: 'at most this many', default: 100, min: 1, max: 100_000 }),
    origin: Flags.string({ description: 'only writes made in this eZone' }),
  };

  async run(): Promise<{ illegalWrites: (IllegalWriteRow & { seenIn: string[] })[] }> {
    const { flags } = await this.parse(AuditIllegalWrites);
    const [{ loadTopology, checkZone }, { listIllegalWrites, formatIllegalWrites }] = await Promise.all([
      import('../../src/topology/index.js'),
      import('../../src/drc/index.js'),
    ]);
    const topology = loadTopology(flags.topology);
    if (flags.origin) checkZone(topology, '--origin', flags.origin);
    const illegalWrites = await listIllegalWrites(topology, { limit: flags.limit, origin: flags.origin });
    if (!this.jsonEnabled()) this.log(formatIllegalWrites(illegalWrites));
    if (illegalWrites.length > 0) process.exitCode = 1;
    return { illegalWrites };
  }
}
