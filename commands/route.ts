import { Flags } from '@oclif/core';
import { EzCommand } from '../src/cli/command.js';
import type { RouteDecision } from '../src/routing/index.js';

export default class Route extends EzCommand {
  static override summary = 'Show where a routing tag goes: shard, eZone, epoch, and how it was decided';
  static override description =
    'Resolves an X-Ez-Route tag the way APIRouter does (DESIGN §3) against the fences of the topology and its ' +
    'routing table at epoch 1. Keys: shard, order, merchant, rider, user, geo (lat,lng). Precedence: shard > ' +
    'order > merchant > rider > user > geo; the first key that resolves wins. A malformed tag, or one where no ' +
    'key resolves, exits 2 with the reason.';

  static override examples = [
    "<%= config.bin %> route --tag 'geo=31.2304,121.4737'",
    "<%= config.bin %> route --tag 'user=u-1;geo=39.90,116.40' --explain",
    "<%= config.bin %> route --tag 'merchant=m-88123' --json",
    "<%= config.bin %> route --tag 'geo=23.13,113.26' --topology fixtures/topologies/three-zones.yaml",
  ];

  static override flags = {
    tag: Flags.string({ description: 'the routing tag, as in the X-Ez-Route header', required: true }),
    explain: Flags.boolean({ description: 'list every layer tried and its outcome' }),
  };

  async run(): Promise<RouteDecision> {
    const { flags } = await this.parse(Route);
    const [{ loadTopology }, { Router, formatDecision, parseRouteTag }] = await Promise.all([
      import('../src/topology/index.js'),
      import('../src/routing/index.js'),
    ]);
    const tag = parseRouteTag(flags.tag); // a malformed tag fails before the topology is loaded
    const router = Router.fromTopology(loadTopology(flags.topology));
    // layers are always collected (they name the fence); shown and returned only with --explain
    const decision = router.resolve(tag, { explain: true });
    this.log(formatDecision(decision, flags.explain));
    if (!flags.explain) delete decision.layers;
    return decision;
  }
}
