// `ezctl route`: where a routing tag goes (shard, eZone, epoch) and how it was decided.
import { Flags } from '@oclif/core';
import { EzCommand } from '../src/cli/command.js';
import type { RouteDecision } from '../src/routing/index.js';

export default class Route extends EzCommand {
  static override summary = 'Show where a routing tag goes: shard, eZone, epoch, and how it was decided';
  static override description =
    'Resolves an X-Ez-Route tag the way APIRouter does (DESIGN §3) against the fences of the topology and its ' +
    'routing table at epoch 1. Keys: shard, order, merchant, rider, user, geo (lat,lng). Precedence: shard > ' +
    'order > merchant > rider > user > geo; the first key that resolves wins. A malformed tag, or one where no ' +
    'key resolves, exits 2 with the reason. With --gzs URL the table comes from a running GZS (its current ' +
    'epoch, locks and owners); the fences still come from the topology.';

  static override examples = [
    "<%= config.bin %> route --tag 'geo=31.2304,121.4737'",
    "<%= config.bin %> route --tag 'user=u-1;geo=39.90,116.40' --explain",
    "<%= config.bin %> route --tag 'merchant=m-88123' --json",
    "<%= config.bin %> route --tag 'geo=23.13,113.26' --topology fixtures/topologies/three-zones.yaml",
    "<%= config.bin %> route --tag 'shard=17' --gzs http://127.0.0.1:27100",
  ];

  static override flags = {
    tag: Flags.string({ description: 'the routing tag, as in the X-Ez-Route header', required: true }),
    explain: Flags.boolean({ description: 'list every layer tried and its outcome' }),
    gzs: Flags.string({
      description:
        'resolve with the table a running GZS serves (URL, e.g. http://127.0.0.1:27100) instead of epoch 1',
    }),
  };

  async run(): Promise<RouteDecision> {
    const { flags } = await this.parse(Route);
    const [{ loadTopology }, { Resolver, formatDecision, parseRouteTag }] = await Promise.all([
      import('../src/topology/index.js'),
      import('../src/routing/index.js'),
    ]);
    const tag = parseRouteTag(flags.tag); // a malformed tag fails before the topology is loaded
    const router = Resolver.fromTopology(loadTopology(flags.topology));
    if (flags.gzs) {
      const { GzsApi } = await import('../src/gzs/api.js');
      router.setTable((await new GzsApi(flags.gzs).table()).table);
    }
    // layers are always collected (they name the fence); shown and returned only with --explain
    const decision = router.resolve(tag, { explain: true });
    this.log(formatDecision(decision, flags.explain));
    if (!flags.explain) delete decision.layers;
    return decision;
  }
}
