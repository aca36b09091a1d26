import { Flags } from '@oclif/core';
import { EzCommand } from '../src/cli/command.js';
import { clusterFlags } from '../src/cli/flags.js';
import type { ClusterStatus } from '../src/launch/cluster.js';

export default class Up extends EzCommand {
  static override summary = "Start the cluster's infrastructure and show what runs where";
  static override description =
    `Starts one MariaDB and one Redis per eZone of the topology (ports from its deployment section), waits until each is ready, creates the database, schema and accounts, and records every process in <state-dir>/<cluster>/state.json. Idempotent: what already runs is kept, what died is started again on its data. Progress goes to stdout (stderr with --json).

Optional kinds start only when asked: --with zookeeper (needs deployment.zookeeper).`;

  static override examples = [
    '<%= config.bin %> up',
    '<%= config.bin %> up --topology fixtures/topologies/three-zones.yaml',
    '<%= config.bin %> up --with zookeeper --json',
  ];

  static override flags = {
    ...clusterFlags,
    with: Flags.string({
      description: 'also start an optional process kind (repeatable)',
      options: ['zookeeper'],
      multiple: true,
    }),
  };

  async run(): Promise<ClusterStatus> {
    const { flags } = await this.parse(Up);
    const [{ loadTopology }, { up }, { formatProgress, formatUpTable }] = await Promise.all([
      import('../src/topology/index.js'),
      import('../src/launch/cluster.js'),
      import('../src/launch/format.js'),
    ]);
    const topology = loadTopology(flags.topology);
    const out = this.jsonEnabled() ? process.stderr : process.stdout;
    const t0 = performance.now();
    const result = await up(topology, { stateDir: flags['state-dir'], with: flags.with }, (e) =>
      out.write(`${formatProgress(e)}\n`),
    );
    this.log(`up in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    this.log(formatUpTable(result));
    return result;
  }
}
