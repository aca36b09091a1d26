// `ezctl down`: stop every recorded process of the cluster by pid, in reverse start order.
import { Flags } from '@oclif/core';
import { EzCommand } from '../src/cli/command.js';
import { clusterFlags } from '../src/cli/flags.js';
import type { DownResult } from '../src/launch/cluster.js';

export default class Down extends EzCommand {
  static override summary = 'Stop every recorded process of the cluster (data kept unless --purge)';
  static override description =
    `Stops each process recorded in <state-dir>/<cluster>/state.json by its pid, in reverse start order, cleanly (mariadb-admin shutdown, SIGTERM; SIGKILL only after a timeout), and waits until each pid is gone. Never kills by process name. The data stays for the next \`ezctl up\` unless --purge deletes the cluster's directory.`;

  static override examples = ['<%= config.bin %> down', '<%= config.bin %> down --purge --json'];

  static override flags = {
    ...clusterFlags,
    purge: Flags.boolean({ description: "also delete the cluster's data directory" }),
  };

  async run(): Promise<DownResult> {
    const { flags } = await this.parse(Down);
    const [{ loadTopology }, { down }, { formatDown, formatProgress }] = await Promise.all([
      import('../src/topology/index.js'),
      import('../src/launch/cluster.js'),
      import('../src/launch/format.js'),
    ]);
    const topology = loadTopology(flags.topology);
    const out = this.jsonEnabled() ? process.stderr : process.stdout;
    const result = await down(topology, { stateDir: flags['state-dir'], purge: flags.purge }, (e) =>
      out.write(`${formatProgress(e)}\n`),
    );
    this.log(formatDown(result));
    return result;
  }
}
