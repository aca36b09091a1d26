// `ezctl hosts check`: what each remote host of the topology lacks for the parts it runs.
import { EzCommand } from '../../src/cli/command.js';
import type { HostsReport } from '../../src/launch/hosts-cli.js';

export default class HostsCheck extends EzCommand {
  static override summary =
    'Say what each remote host lacks (packages, Node.js, the project) for the parts it runs';
  static override description =
    `Connects to every host of the topology's hosts that has ssh (one multiplexed connection each) and checks, for the parts the topology puts there: the Debian packages (mariadb-server, redis-server, …), this machine's Node.js binary and this machine's copy of the project. Nothing is changed: \`ezctl hosts prepare\` installs what is missing.

Exit code: 0 when every host has what it needs, 1 when one lacks something or cannot be reached (one line naming the host and what to do), 2 for a bad topology.`;
  static override examples = [
    '<%= config.bin %> hosts check -t cluster.yaml',
    '<%= config.bin %> hosts check --json',
  ];

  async run(): Promise<HostsReport> {
    const { flags } = await this.parse(HostsCheck);
    const [{ loadTopology }, { hostsCheck, formatHosts }] = await Promise.all([
      import('../../src/topology/index.js'),
      import('../../src/launch/hosts-cli.js'),
    ]);
    const report = await hostsCheck(loadTopology(flags.topology));
    this.log(formatHosts(report));
    if (!report.ready) process.exitCode = 1;
    return report;
  }
}
