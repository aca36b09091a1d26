/**
 * The paths between sites of a cluster and the named links they go through (DESIGN §8): every
 * path between eZones, and from APIRouter's site ("edge") to each eZone, is one link
 * `<from>-><to>:<kind>` of the link server `ezctl up` starts, so the harness can slow, cut or kill
 * it. Pure: names, listen ports and the address a client at one site uses to reach a service.
 */
import type { HostPort } from '../util/parse.js';
import { hostAddress, partAddress } from './hosts.js';
import { rttBetween } from './network.js';
import { EDGE_SITE } from './schema.js';
import type { Topology, ZoneId } from './types.js';

/** APIRouter's site ("public cloud"): not an eZone; links from it are `edge-><eZone>:<kind>`. */
export const EDGE = EDGE_SITE;
export type Site = ZoneId | typeof EDGE_SITE;

/**
 * What crosses a link (the service in the target eZone):
 * - `mysql`:  a DRC replicator in `from` reads `to`'s binlog (and writes its heartbeat there);
 * - `soa`:    `from`'s SOA Proxy forwards a call to `to`'s SOA Proxy;
 * - `gzs`:    holders in `from` reach GZS, which runs at `to`'s site;
 * - `global`: Global-Zone writes from `from` to the master eZone `to`'s database;
 * - `api`:    APIRouter (at the edge) forwards a request to `to`'s services.
 */
export const LINK_KINDS = ['mysql', 'soa', 'gzs', 'global', 'api'] as const;
export type LinkKind = (typeof LINK_KINDS)[number];

export const linkName = (from: Site, to: ZoneId, kind: LinkKind): string => `${from}->${to}:${kind}`;

export function parseLinkName(name: string): { from: Site; to: ZoneId; kind: LinkKind } | null {
  const m = /^([a-z][a-z0-9-]{0,31})->([a-z][a-z0-9-]{0,31}):([a-z]+)$/.exec(name);
  if (!m || !(LINK_KINDS as readonly string[]).includes(m[3])) return null;
  return { from: m[1], to: m[2], kind: m[3] as LinkKind };
}

/** The eZone whose site GZS runs at (`deployment.gzs.zone`, by default the Global-Zone master). */
export const gzsZone = (topology: Topology): ZoneId => topology.deployment.gzs.zone;

/** The address of a service as its own eZone (or the control machine) reaches it: no link. */
export function directAddress(topology: Topology, to: ZoneId, kind: LinkKind): HostPort {
  const z = topology.deployment.zones[to];
  switch (kind) {
    case 'mysql':
    case 'global':
      return { host: partAddress(topology, to, 'mariadb'), port: z.ports.mysql };
    case 'soa':
      return { host: partAddress(topology, to, 'soa'), port: z.ports.soa };
    case 'api':
      return { host: partAddress(topology, to, 'orders'), port: z.ports.orders };
    case 'gzs':
      return {
        host: hostAddress(topology, topology.deployment.gzs.host),
        port: topology.deployment.gzs.port,
      };
  }
}

export interface PlannedLink {
  name: string;
  from: Site;
  to: ZoneId;
  kind: LinkKind;
  /** where clients at `from` connect */
  listen: HostPort;
  /** the service in `to` */
  upstream: HostPort;
  /** round trip the link adds (ms), half each way */
  rttMs: number;
}

/** Sites in port order: the edge first, then the eZones in topology order. */
const sitesOf = (topology: Topology): Site[] => [EDGE, ...topology.zones.map((z) => z.id)];

/**
 * Listen port of a link: `deployment.links.port + 1 + (i·Z + j)·K + k` for source site i (edge
 * first), target eZone j (Z eZones), kind k (K kinds): deterministic, so every part knows where to
 * connect without asking the link server. The topology loader reserves the whole range.
 */
export function linkListenPort(topology: Topology, from: Site, to: ZoneId, kind: LinkKind): number {
  const base = linksBasePort(topology);
  const i = sitesOf(topology).indexOf(from);
  const j = topology.zones.findIndex((z) => z.id === to);
  if (i < 0 || j < 0) throw new Error(`link ${linkName(from, to, kind)}: unknown site`);
  return base + (i * topology.zones.length + j) * LINK_KINDS.length + LINK_KINDS.indexOf(kind);
}

export const DEFAULT_LINKS_PORT = 8474;
export const linksApiPort = (topology: Topology): number =>
  topology.deployment.links?.port ?? DEFAULT_LINKS_PORT;
/** The address link listeners bind to (the link server's host; its API stays on 127.0.0.1). */
export const linksAddress = (topology: Topology): string =>
  hostAddress(topology, topology.deployment.links?.host ?? 'local');
const linksBasePort = (topology: Topology): number => linksApiPort(topology) + 1;

/** The ports link listeners may take: [first, last] (the loader checks them against every other port). */
export function linkPortRange(topology: Topology): [number, number] {
  const base = linksBasePort(topology);
  return [base, base + sitesOf(topology).length * topology.zones.length * LINK_KINDS.length - 1];
}

/** Every link a cluster needs, in a stable order. */
export function plannedLinks(topology: Topology): PlannedLink[] {
  const out: PlannedLink[] = [];
  const g = gzsZone(topology);
  const m = topology.globalMaster;
  const add = (from: Site, to: ZoneId, kind: LinkKind): void => {
    out.push({
      name: linkName(from, to, kind),
      from,
      to,
      kind,
      listen: { host: linksAddress(topology), port: linkListenPort(topology, from, to, kind) },
      upstream: directAddress(topology, to, kind),
      rttMs: rttBetween(topology, from, to),
    });
  };
  for (const z of topology.zones) add(EDGE, z.id, 'api');
  add(EDGE, g, 'gzs');
  for (const a of topology.zones) {
    for (const b of topology.zones) {
      if (a.id === b.id) continue;
      add(a.id, b.id, 'mysql');
      add(a.id, b.id, 'soa');
      if (b.id === g) add(a.id, b.id, 'gzs');
      if (b.id === m) add(a.id, b.id, 'global');
    }
  }
  return out;
}

/**
 * Where a client at site `from` connects to reach `kind` of eZone `to`: the link's listen address
 * when links are on and the path crosses sites, else the service itself.
 */
export function reach(
  topology: Topology,
  linksOn: boolean,
  from: Site,
  to: ZoneId,
  kind: LinkKind,
): HostPort {
  if (!linksOn || from === to) return directAddress(topology, to, kind);
  return { host: linksAddress(topology), port: linkListenPort(topology, from, to, kind) };
}

/** The GZS base URL for a holder at `from` (through the link `<from>-><gzs site>:gzs` when links are on). */
export function gzsUrlFrom(topology: Topology, linksOn: boolean, from: Site): string {
  const a = reach(topology, linksOn, from, gzsZone(topology), 'gzs');
  return `http://${a.host}:${a.port}`;
}

/** APIRouter as clients on the control machine (workload, drills, the failover verdict) reach it. */
export const controlRouterUrl = (topology: Topology): string =>
  `http://${hostAddress(topology, topology.deployment.router.host)}:${topology.deployment.router.port}`;

/** GZS as the control machine (ezctl, the switch, the harness) reaches it: directly. */
export const controlGzsUrl = (topology: Topology): string => gzsUrlFrom(topology, false, gzsZone(topology));
