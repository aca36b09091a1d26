// `ezctl hosts prepare`: install what each remote host lacks (packages, Node.js, the project), idempotently.
import { EzCommand } from '../../src/cli/command.js';
import type { HostsReport } from '../../src/launch/hosts-cli.js';

export default class HostsPrepare extends EzCommand {
  static override summary =
    'Install what each remote host needs: Debian packages, Node.js and the project (copied from here)';
  static override description =
    `For every host of the topology's hosts that has ssh, in parallel: creates its working directory (hosts.<name>.dir), installs the missing Debian packages with the host's own apt-get (as root, or with sudo -n) and disables the distro services they start, copies this machine's Node.js binary to <dir>/ezctl/node and this machine's project (dist, fixtures, production node_modules) to <dir>/ezctl/app. Nothing is downloaded from anywhere but the host's own Debian mirror. Idempotent: a step whose result is already there is skipped ("present"). Progress is one line per host and step.

Exit code: 0 when every host is ready afterwards, 1 when a step failed or a host cannot be reached (one line naming the host and the command), 2 for a bad topology.`;
  static override examples = [
    '<%= config.bin %> hosts prepare -t cluster.yaml',
    '<%= config.bin %> hosts prepare --json',
  ];

  async run(): Promise<HostsReport> {
    const { flags } = await this.parse(HostsPrepare);
    const [{ loadTopology }, { hostsPrepare, formatHosts, formatPrepareEvent }] = await Promise.all([
      import('../../src/topology/index.js'),
      import('../../src/launch/hosts-cli.js'),
    ]);
    const out = this.jsonEnabled() ? process.stderr : process.stdout;
    const report = await hostsPrepare(loadTopology(flags.topology), (e) =>
      out.write(`${formatPrepareEvent(e)}\n`),
    );
    this.log(formatHosts(report));
    if (!report.ready) process.exitCode = 1;
    return report;
  }
}
