// Link sets: a cluster's named links on a link server (built-in or Toxiproxy) and the faults applied to them.
import { type Proxy as LinkProxy, Toxiproxy } from 'toxiproxy-node-client';
import {
  checkZone,
  EDGE,
  LINK_KINDS,
  type LinkKind,
  linkListenPort,
  linkName,
  linksApiPort,
  parseLinkName,
  plannedLinks,
  type Site,
  type Topology,
  type ZoneId,
} from '../topology/index.js';
import { EzError, UsageError } from '../util/errors.js';
import { formatHostPort } from '../util/parse.js';
import { describeFault, type Fault, parseFault } from './fault.js';

/**
 * Link sets: the links between the eZones of a topology, one named link per directed path and kind
 * (`<from>-><to>:<kind>`: clients in eZone `from` reach eZone `to`'s service through it). Every
 * other part creates and breaks links only through this module, and this module talks to the link
 * server only through `toxiproxy-node-client`, so a real Toxiproxy can stand in for the built-in one.
 */
export { LINK_KINDS, type LinkKind, linkName, parseLinkName } from '../topology/index.js';

/** `host:port` of each eZone's service per kind, e.g. `{ 'ez-bj': { mysql: '127.0.0.1:27200' } }`. */
export type ZoneAddresses = Record<ZoneId, Partial<Record<LinkKind, string>>>;
export type AddressOf = (zone: ZoneId, kind: LinkKind) => string | undefined;

export interface LinkInfo {
  name: string;
  from: Site;
  to: ZoneId;
  kind: LinkKind;
  /** where callers in `from` connect (resolved by the server when the port was 0) */
  listen: string;
  /** the service in `to` */
  upstream: string;
  enabled: boolean;
}

export interface FaultResult {
  fault: string;
  from: Site;
  to: ZoneId | '*';
  links: string[];
}

/** Toxics this module's faults own; heal removes exactly these (never the base latency). */
const TOXIC_PREFIX = 'ez-';
/** The toxics of a `slow` fault (one per direction); a caller may tune them (e.g. add jitter) or remove them alone. */
export const SLOW = { up: 'ez-slow-up', down: 'ez-slow-down' };
const PARTITION = { up: 'ez-partition-up', down: 'ez-partition-down' };
/** The topology's latency of a link (`network`), set by createLinks; heal keeps it. */
export const BASE_LATENCY = { up: 'base-latency-up', down: 'base-latency-down' };
/** On a real Toxiproxy (no `stall` type) a stall is a latency toxic this long: data waits, then flows on removal. */
const STALL_FALLBACK_MS = 86_400_000;

/** The link server of a topology: `deployment.links` (127.0.0.1:port), else Toxiproxy's 8474. */
export function defaultLinksUrl(topology: Topology): string {
  return `http://127.0.0.1:${linksApiPort(topology)}`;
}

export interface PlanOptions {
  /** listen host; default 127.0.0.1 */
  listenHost?: string;
  /** 0: the server picks free ports; default: the topology's deterministic ports (linkListenPort) */
  basePort?: 0;
  /** or choose every listen port yourself */
  listenPortOf?: (from: ZoneId, to: ZoneId, kind: LinkKind) => number;
}

/**
 * Links between the eZones of a topology for a set of service addresses (tests, benches): every
 * ordered pair of distinct eZones, every kind the target serves. A cluster's own links come from
 * the topology's plan instead (createLinks).
 */
export function planLinks(
  topology: Topology,
  addresses: ZoneAddresses | AddressOf,
  opts: PlanOptions = {},
): Omit<LinkInfo, 'enabled'>[] {
  const addressOf: AddressOf =
    typeof addresses === 'function' ? addresses : (zone, kind) => addresses[zone]?.[kind];
  const host = opts.listenHost ?? '127.0.0.1';
  const out: Omit<LinkInfo, 'enabled'>[] = [];
  for (const a of topology.zones) {
    for (const b of topology.zones) {
      if (a.id === b.id) continue;
      for (const kind of LINK_KINDS) {
        const upstream = addressOf(b.id, kind);
        if (!upstream) continue;
        const port = opts.listenPortOf
          ? opts.listenPortOf(a.id, b.id, kind)
          : opts.basePort === 0
            ? 0
            : linkListenPort(topology, a.id, b.id, kind);
        out.push({
          name: linkName(a.id, b.id, kind),
          from: a.id,
          to: b.id,
          kind,
          listen: `${host}:${port}`,
          upstream,
        });
      }
    }
  }
  return out;
}

/**
 * `from` and `to` name two different sites of the topology (eZones, or `edge` for APIRouter's
 * site; `to` may be `*`); a usage error otherwise.
 */
export function checkPair(topology: Topology, from: Site, to: Site | '*'): void {
  for (const z of to === '*' ? [from] : [from, to]) if (z !== EDGE) checkZone(topology, 'link fault', z);
  if (from === to) throw new UsageError(`"${from}" twice: a fault is between two different sites (or use *)`);
}

interface ToxicJson {
  name: string;
  type: string;
  stream: string;
  attributes: Record<string, unknown>;
}

/** A client call failed: unreachable server → exit 1 with a hint; HTTP errors keep their status. */
function wrap(url: string, what: string, err: unknown): EzError {
  const msg = (err as Error)?.message ?? String(err);
  if (/status code/.test(msg)) return new EzError('EZ_LINKS_API', `link server ${url}: ${what}: ${msg}`);
  return new EzError(
    'EZ_LINKS_UNREACHABLE',
    `cannot reach the link server at ${url} (${what}: ${msg}); start one with \`ezctl links serve\` or pass --toxiproxy URL`,
  );
}

export interface LinkSetOptions {
  /** link server URL (built-in or a real Toxiproxy), or a client */
  toxiproxy: string | Toxiproxy;
  topology: Topology;
}

export class LinkSet {
  private builtIn: boolean | undefined;

  private constructor(
    readonly client: Toxiproxy,
    readonly topology: Topology,
    private readonly proxies: Map<string, LinkProxy>,
  ) {}

  get url(): string {
    return this.client.host;
  }

  /** Create (or replace) links for a set of service addresses (tests, benches) in one populate call. */
  static async create(
    opts: LinkSetOptions & PlanOptions & { addresses: ZoneAddresses | AddressOf },
  ): Promise<LinkSet> {
    const plan = planLinks(opts.topology, opts.addresses, opts);
    return LinkSet.populate(opts, plan);
  }

  /**
   * The cluster's own links (`ezctl up`): every path of the topology's plan (plannedLinks), each
   * with its base latency — the `network` round trip, half each way, connection set-up included —
   * as toxics that `heal` keeps. Idempotent: a second call leaves the same links and toxics.
   */
  static async createPlanned(opts: LinkSetOptions): Promise<LinkSet> {
    const plan = plannedLinks(opts.topology);
    const set = await LinkSet.populate(
      opts,
      plan.map((l) => ({ ...l, listen: formatHostPort(l.listen), upstream: formatHostPort(l.upstream) })),
    );
    try {
      await Promise.all(plan.map((l) => set.setBaseLatency(set.proxies.get(l.name)!, l.rttMs)));
    } catch (err) {
      throw wrap(set.url, 'setting link latency', err);
    }
    return set;
  }

  private static async populate(
    opts: LinkSetOptions,
    plan: { name: string; listen: string; upstream: string }[],
  ): Promise<LinkSet> {
    const client = typeof opts.toxiproxy === 'string' ? new Toxiproxy(opts.toxiproxy) : opts.toxiproxy;
    let created: Record<string, LinkProxy>;
    try {
      created = await client.populate(
        plan.map((l) => ({ name: l.name, listen: l.listen, upstream: l.upstream, enabled: true })),
      );
    } catch (err) {
      throw wrap(client.host, 'creating links', err);
    }
    return new LinkSet(client, opts.topology, new Map(Object.entries(created)));
  }

  /** The base latency toxics of one link (removed when the round trip is 0). */
  private async setBaseLatency(p: LinkProxy, rttMs: number): Promise<void> {
    const existing = await this.toxicsOf(p);
    const up = Math.floor(rttMs / 2);
    for (const [name, stream, latency] of [
      [BASE_LATENCY.up, 'upstream', up],
      [BASE_LATENCY.down, 'downstream', rttMs - up],
    ] as const) {
      const has = existing.some((t) => t.name === name);
      if (latency === 0) {
        if (has) await this.client.getApi().delete(`${p.getPath()}/toxics/${name}`);
        continue;
      }
      const attributes = { latency, jitter: 0, handshake: true };
      if (has) {
        const toxic = await p.getToxic(name);
        await toxic.update({ ...toxic.toJson(), attributes });
      } else await p.addToxic({ name, type: 'latency', stream, toxicity: 1, attributes });
    }
  }

  /** The topology's links that already exist on the server (created by `create`, e.g. by `ezctl up`). */
  static async attach(opts: LinkSetOptions): Promise<LinkSet> {
    const client = typeof opts.toxiproxy === 'string' ? new Toxiproxy(opts.toxiproxy) : opts.toxiproxy;
    let all: Record<string, LinkProxy>;
    try {
      all = await client.getAll();
    } catch (err) {
      throw wrap(client.host, 'listing links', err);
    }
    const sites = new Set<string>([EDGE, ...opts.topology.zones.map((z) => z.id)]);
    const mine = Object.entries(all).filter(([name]) => {
      const p = parseLinkName(name);
      return p && sites.has(p.from) && sites.has(p.to);
    });
    return new LinkSet(client, opts.topology, new Map(mine));
  }

  get links(): LinkInfo[] {
    return [...this.proxies.values()]
      .map((p) => ({
        ...parseLinkName(p.name)!,
        name: p.name,
        listen: p.listen,
        upstream: p.upstream,
        enabled: p.enabled,
      }))
      .sort((x, y) => x.name.localeCompare(y.name));
  }

  /** Where a caller in `from` connects to reach `to`'s `kind` service. */
  address(from: ZoneId, to: ZoneId, kind: LinkKind): string {
    const p = this.proxies.get(linkName(from, to, kind));
    if (!p) throw new EzError('EZ_NO_LINK', `no link ${linkName(from, to, kind)} in this link set`);
    return p.listen;
  }

  /**
   * Links of a site pair (both directions), or of a whole eZone (`to` = `*`: its links to and from
   * every other eZone; the edge's links to it only with `withEdge`, since an eZone cut off from
   * APIRouter is down as seen from outside — a different fault from a partition between eZones).
   */
  select(from: Site, to: Site | '*', opts: { withEdge?: boolean } = {}): LinkProxy[] {
    checkPair(this.topology, from, to);
    return [...this.proxies.values()].filter((p) => {
      const l = parseLinkName(p.name)!;
      if (to === '*') {
        if (l.from === EDGE && !opts.withEdge) return false;
        return l.from === from || l.to === from;
      }
      return (l.from === from && l.to === to) || (l.from === to && l.to === from);
    });
  }

  private async isBuiltIn(): Promise<boolean> {
    if (this.builtIn === undefined) {
      try {
        const text = await this.client.getVersion();
        this.builtIn = (JSON.parse(text) as { server?: string }).server === 'ezctl-links';
      } catch {
        this.builtIn = false;
      }
    }
    return this.builtIn;
  }

  private async toxicsOf(p: LinkProxy): Promise<ToxicJson[]> {
    const res = await this.client.getApi().get<ToxicJson[]>(`${p.getPath()}/toxics`);
    return res.data;
  }

  private async setEnabled(p: LinkProxy, enabled: boolean): Promise<void> {
    if (p.enabled === enabled) return;
    const updated = await p.update({ listen: p.listen, upstream: p.upstream, enabled });
    this.proxies.set(p.name, updated);
  }

  /** Apply a fault to an eZone pair (`to` = the other eZone) or to every link of an eZone (`to` = `*`). */
  async fault(
    from: Site,
    to: Site | '*',
    fault: Fault | string,
    opts: { withEdge?: boolean } = {},
  ): Promise<FaultResult> {
    const f = typeof fault === 'string' ? parseFault(fault) : fault;
    const targets = this.select(from, to, opts);
    if (targets.length === 0)
      throw new EzError(
        'EZ_NO_LINKS',
        `no links ${to === '*' ? `of ${from}` : `between ${from} and ${to}`} on ${this.url} (links are created by \`ezctl up\` or LinkSet.create)`,
      );
    const builtIn = f.kind === 'partition' && f.mode === 'stall' ? await this.isBuiltIn() : false;
    try {
      await Promise.all(targets.map((p) => this.applyTo(p, f, builtIn)));
    } catch (err) {
      if (err instanceof EzError) throw err;
      throw wrap(this.url, `applying "${describeFault(f)}"`, err);
    }
    return {
      fault: describeFault(f),
      from,
      to: to as ZoneId | '*',
      links: targets.map((p) => p.name).sort(),
    };
  }

  /** Remove every fault (all links, or those of a pair / an eZone). */
  async heal(from?: Site, to: Site | '*' = '*'): Promise<FaultResult> {
    if (from) return this.fault(from, to, { kind: 'heal' }, { withEdge: true });
    try {
      await Promise.all([...this.proxies.values()].map((p) => this.applyTo(p, { kind: 'heal' }, false)));
    } catch (err) {
      throw wrap(this.url, 'healing', err);
    }
    return { fault: 'heal', from: '*', to: '*', links: [...this.proxies.keys()].sort() };
  }

  private async applyTo(p0: LinkProxy, f: Fault, builtIn: boolean): Promise<void> {
    let p = p0;
    const existing = await this.toxicsOf(p);
    const has = (name: string) => existing.some((t) => t.name === name);
    const remove = async (names: string[]) => {
      for (const name of names)
        if (has(name)) await this.client.getApi().delete(`${p.getPath()}/toxics/${name}`);
    };
    if (f.kind === 'heal') {
      await remove(existing.filter((t) => t.name.startsWith(TOXIC_PREFIX)).map((t) => t.name));
      await this.setEnabled(p, true);
      return;
    }
    if (f.kind === 'slow') {
      const up = Math.floor(f.ms / 2);
      const legs: [string, 'upstream' | 'downstream', number][] = [
        [SLOW.up, 'upstream', up],
        [SLOW.down, 'downstream', f.ms - up],
      ];
      for (const [name, stream, latency] of legs) {
        const attributes = { latency, jitter: 0, handshake: true };
        if (has(name)) {
          const toxic = await p.getToxic(name);
          await toxic.update({ ...toxic.toJson(), attributes });
        } else await p.addToxic({ name, type: 'latency', stream, toxicity: 1, attributes });
      }
      return;
    }
    // a partition replaces any other partition
    await remove([PARTITION.up, PARTITION.down]);
    await this.setEnabled(p, true);
    p = this.proxies.get(p.name)!;
    if (f.mode === 'refuse') {
      await this.setEnabled(p, false);
      return;
    }
    for (const [name, stream] of [
      [PARTITION.up, 'upstream'],
      [PARTITION.down, 'downstream'],
    ] as const) {
      if (f.mode === 'blackhole')
        await p.addToxic({ name, type: 'timeout', stream, toxicity: 1, attributes: { timeout: 0 } });
      else if (builtIn)
        await p.addToxic({ name, type: 'stall' as 'timeout', stream, toxicity: 1, attributes: {} });
      else
        await p.addToxic({
          name,
          type: 'latency',
          stream,
          toxicity: 1,
          attributes: { latency: STALL_FALLBACK_MS, jitter: 0 },
        });
    }
  }

  /** Delete every link of the set. */
  async remove(): Promise<void> {
    try {
      await Promise.all([...this.proxies.values()].map((p) => p.remove()));
    } catch (err) {
      throw wrap(this.url, 'removing links', err);
    }
    this.proxies.clear();
  }
}
