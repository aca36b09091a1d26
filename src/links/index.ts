// Links between sites (DESIGN §8): the built-in link server speaking Toxiproxy's HTTP API, and the
// link sets every other part uses to create, slow, cut and heal the cluster's named links
// (`<from>-><to>:<kind>`, names and ports in src/topology/links.ts).
import type { Topology } from '../topology/index.js';
import { LinkSet } from './link-set.js';

export { describeFault, FAULT_GRAMMAR, type Fault, parseFault } from './fault.js';
export {
  type AddressOf,
  BASE_LATENCY,
  checkPair,
  defaultLinksUrl,
  type FaultResult,
  type LinkInfo,
  LinkSet,
  type PlanOptions,
  planLinks,
  SLOW,
  type ZoneAddresses,
} from './link-set.js';
export { LinkServer, type LinkServerOptions, startLinkServer } from './server.js';

/** Create the cluster's links on the link server at `url` (built-in or a real Toxiproxy): `ezctl up`. */
export function createLinks(topology: Topology, url: string): Promise<LinkSet> {
  return LinkSet.createPlanned({ toxiproxy: url, topology });
}
