// `ezctl drill list`: the drill files of a folder (default fixtures/drills) and their last run.
import { Flags } from '@oclif/core';
import { EzCommand } from '../../src/cli/command.js';

export default class DrillList extends EzCommand {
  static override summary =
    'List the drill files (name, duration, faults) and the verdict of their latest run';
  static override examples = [
    '<%= config.bin %> drill list',
    '<%= config.bin %> drill list --dir my-drills --json',
  ];
  static override flags = {
    dir: Flags.string({ description: 'folder of drill files [default: the project fixtures/drills]' }),
    'runs-dir': Flags.string({ description: 'where runs are stored', default: 'runs' }),
  };

  async run(): Promise<{ drills: unknown[] }> {
    const { flags } = await this.parse(DrillList);
    const { listDrills, formatDrillList } = await import('../../harness/drill/format.js');
    const drills = listDrills(flags.dir, flags['runs-dir']);
    this.log(formatDrillList(drills));
    return { drills };
  }
}
