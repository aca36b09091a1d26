// Tag → shard → eZone (DESIGN §3) with layered precedence, and the Resolver every routing part holds.
import type { Topology } from '../topology/index.js';
import { RouteError } from './errors.js';
import { FenceIndex } from './fence-index.js';
import { shardOfValidOrderId } from './order-id.js';
import { initialTable, type RoutingTable, type ShardState, type ZoneState } from './table.js';
import {
  parseRouteTag,
  ROUTE_KEYS,
  type RouteKey,
  type RouteTag,
  routeTagFrom,
  type TagSources,
} from './tag.js';

/**
 * Tag → shard → eZone (DESIGN §3). Precedence shard > order > merchant > rider > user > geo: the
 * first key present that resolves wins. A key that does not resolve (unknown merchant, point
 * outside every fence, shard missing from the table) falls through to the next layer; when none
 * resolves the answer is a RouteError naming what was tried, never a guess.
 */

export type LayerOutcome =
  | 'resolved'
  | 'not-present'
  | 'unknown-key'
  | 'outside-fences'
  | 'not-in-table'
  | 'overridden';

export interface RouteLayer {
  key: RouteKey;
  outcome: LayerOutcome;
  /** the key's value as in the tag */
  value?: string;
  /** the shard it led to (also when that shard is missing from the table) */
  shard?: number;
  detail?: string;
}

export interface RouteDecision {
  shard: number;
  zone: string;
  epoch: number;
  shardState: ShardState;
  /** state of the owning eZone; 'down' also when the table does not list the eZone */
  zoneState: ZoneState;
  decidedBy: RouteKey;
  /** every layer, in precedence order (only with `explain`) */
  layers?: RouteLayer[];
}

export interface ResolveOptions {
  explain?: boolean;
}

/** A key's value as text. Only for explain and errors: formatting doubles costs more than the lookup. */
const valueText = (tag: RouteTag, key: RouteKey): string =>
  key === 'geo' ? `${tag.geo!.lat},${tag.geo!.lng}` : String(tag[key]);

export function resolveRoute(
  tag: RouteTag,
  table: RoutingTable,
  fences: FenceIndex,
  opts?: ResolveOptions,
): RouteDecision {
  const explain = opts?.explain === true;
  const layers: RouteLayer[] | undefined = explain ? [] : undefined;
  let tried: string[] | undefined; // what did not resolve, for the error (built only on fall-through)
  let decision: RouteDecision | undefined;

  for (const key of ROUTE_KEYS) {
    const raw = tag[key];
    if (raw === undefined) {
      layers?.push({ key, outcome: 'not-present' });
      continue;
    }
    if (decision) {
      if (!layers) break;
      layers.push({
        key,
        outcome: 'overridden',
        value: valueText(tag, key),
        detail: `${decision.decidedBy} takes precedence`,
      });
      continue;
    }

    let shard: number;
    let detail: string | undefined;
    if (key === 'shard') {
      shard = raw as number;
    } else if (key === 'order') {
      shard = shardOfValidOrderId(raw as string);
      if (explain) detail = `shard ${shard} embedded in the order id`;
    } else if (key === 'geo') {
      const f = fences.fenceAt(tag.geo!.lat, tag.geo!.lng);
      if (f < 0) {
        const value = valueText(tag, key);
        tried = tried ?? [];
        tried.push(`geo ${value} is outside every fence`);
        layers?.push({ key, outcome: 'outside-fences', value, detail: 'outside every fence' });
        continue;
      }
      const fence = fences.fence(f);
      shard = fence.shard;
      if (explain) detail = `fence ${fence.name ? `"${fence.name}"` : `#${fence.index}`}`;
    } else {
      const mapped = table.keys[key][raw as string];
      if (mapped === undefined) {
        tried = tried ?? [];
        tried.push(`${key} "${raw}" is not in the key table`);
        layers?.push({ key, outcome: 'unknown-key', value: raw as string, detail: `no ${key} mapping` });
        continue;
      }
      shard = mapped;
      if (explain) detail = `${key} table maps it to shard ${shard}`;
    }

    const entry = table.shards[shard];
    if (entry === undefined) {
      const value = valueText(tag, key);
      tried = tried ?? [];
      tried.push(
        key === 'shard'
          ? `shard ${shard} is not in the routing table`
          : `${key} ${value} leads to shard ${shard}, which is not in the routing table`,
      );
      layers?.push({ key, outcome: 'not-in-table', value, shard, detail: `shard ${shard} not in the table` });
      continue;
    }
    decision = {
      shard,
      zone: entry.zone,
      epoch: table.epoch,
      shardState: entry.state,
      zoneState: table.zones[entry.zone]?.state ?? 'down',
      decidedBy: key,
    };
    layers?.push({ key, outcome: 'resolved', value: valueText(tag, key), shard, detail });
  }

  if (!decision) {
    throw new RouteError(
      tried === undefined
        ? `routing tag has no key (expected one of ${ROUTE_KEYS.join(', ')})`
        : `no key of the routing tag resolves to a shard: ${tried.join('; ')}`,
    );
  }
  if (layers) decision.layers = layers;
  return decision;
}

/**
 * One routing path for every part (APIRouter, SOA Proxy, DAL, SDK): the current table and the
 * fence index, built once. `setTable` swaps in a newer table (the SDK does when GZS pushes one).
 */
export class Resolver {
  private current: RoutingTable;
  readonly fences: FenceIndex;

  constructor(table: RoutingTable, fences: FenceIndex) {
    this.current = table;
    this.fences = fences;
  }

  /** The epoch-1 table of a topology and an index of its fences. */
  static fromTopology(topology: Topology): Resolver {
    return new Resolver(initialTable(topology), FenceIndex.build(topology.fences));
  }

  get table(): RoutingTable {
    return this.current;
  }

  get epoch(): number {
    return this.current.epoch;
  }

  setTable(table: RoutingTable): void {
    this.current = table;
  }

  resolve(tag: RouteTag, opts?: ResolveOptions): RouteDecision {
    return resolveRoute(tag, this.current, this.fences, opts);
  }

  /** Parse `X-Ez-Route` text and resolve it. */
  route(text: string, opts?: ResolveOptions): RouteDecision {
    return resolveRoute(parseRouteTag(text), this.current, this.fences, opts);
  }

  /** The tag of a request (header, else cookie, else query parameter), resolved. */
  routeRequest(sources: TagSources, opts?: ResolveOptions): RouteDecision & { source: string } {
    const { tag, source } = routeTagFrom(sources);
    return { ...resolveRoute(tag, this.current, this.fences, opts), source };
  }
}
