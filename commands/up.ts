// `ezctl up`: start (or complete) the cluster of a topology, phase by phase, and show what runs where.
import { Flags } from '@oclif/core';
import { EzCommand } from '../src/cli/command.js';
import { clusterFlags } from '../src/cli/flags.js';
import type { ClusterStatus } from '../src/launch/cluster.js';

export default class Up extends EzCommand {
  static override summary =
    'Start the cluster (databases, caches, GZS, DRC, services, routers) and show what runs where';
  static override description =
    `Starts the whole cluster of the topology, in dependency order: the link server (every path between eZones, and from APIRouter's site to each eZone, is a named link with the topology's latency: 30 ms round trip between eZones by default; \`ezctl links list\` shows them), per eZone a MariaDB and a Redis (database, schema and accounts created), GZS, a DRC replicator for every ordered eZone pair, a cache invalidator, the sample order service and an SOA Proxy per eZone, and the APIRouter. Ports come from the topology's deployment section. Waits until each process is ready and records it in <state-dir>/<cluster>/state.json. Idempotent: what already runs is kept, what died is started again on its data. Progress goes to stdout (stderr with --json).

--only mariadb,redis starts just those kinds. Optional kinds start only when asked: --with zookeeper (needs deployment.zookeeper).`;

  static override examples = [
    '<%= config.bin %> up',
    '<%= config.bin %> up --topology fixtures/topologies/three-zones.yaml',
    '<%= config.bin %> up --with zookeeper --json',
    '<%= config.bin %> up --only mariadb,redis',
  ];

  static override flags = {
    ...clusterFlags,
    with: Flags.string({
      description: 'also start an optional process kind (repeatable)',
      options: ['zookeeper'],
      multiple: true,
    }),
    links: Flags.boolean({
      description:
        'send every path between sites through a named link of the link server (30 ms between eZones by default); --no-links connects directly',
      default: true,
      allowNo: true,
    }),
    toxiproxy: Flags.string({
      description: 'a real Toxiproxy (URL) to hold the links instead of the built-in link server',
      env: 'EZCTL_TOXIPROXY_URL',
    }),
    only: Flags.string({
      description:
        'start only these process kinds (comma-separated, e.g. mariadb,redis); what is not listed is left as it is',
      delimiter: ',',
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
    const result = await up(
      topology,
      {
        stateDir: flags['state-dir'],
        with: flags.with,
        only: flags.only,
        links: flags.links,
        toxiproxy: flags.toxiproxy,
      },
      (e) => out.write(`${formatProgress(e)}\n`),
    );
    this.log(`up in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    this.log(formatUpTable(result));
    return result;
  }
}
