import type { ZonePortKind } from './schema.js';

export type ZoneId = string;
export type ShardId = number;

/** [lng, lat] as in GeoJSON. */
export type Position = [number, number];
/** Outer ring first, then holes; each ring closed (first = last). */
export type PolygonRings = Position[][];

export interface Fence {
  /** index of the feature in the GeoJSON file */
  index: number;
  shard: ShardId;
  name?: string;
  /** a Polygon is one entry, a MultiPolygon several */
  polygons: PolygonRings[];
}

export interface Zone {
  id: ZoneId;
  /** MariaDB server-id and gtid-domain-id of this eZone's database; also DRC's origin id. */
  serverId: number;
  description?: string;
}

export interface Table {
  name: string;
  kind: 'sharded' | 'global';
  shardColumn?: string;
  primaryKey: string[];
  updatedAt: string;
  cacheKey?: string;
}

export interface Endpoint {
  host: 'local';
  port: number;
}

export type ZonePorts = Record<ZonePortKind, number>;

export interface ZoneDeployment {
  host: 'local';
  ports: ZonePorts;
}

export interface Topology {
  /** absolute path of the file it was loaded from */
  file: string;
  /** cluster name: names the state directory `.ezctl/<name>/` */
  name: string;
  database: string;
  zones: Zone[];
  globalMaster: ZoneId;
  /** absolute path of the SQL schema applied to every eZone's MariaDB (the topology's `schema`, or the package's fixtures/sql/schema.sql) */
  schemaFile: string;
  fencesFile: string;
  /** how overlapping fences resolve: refused at load time, or the lowest feature index wins (the fence index's rule) */
  fenceOverlap: 'error' | 'first-wins';
  fences: Fence[];
  /** shard → owning eZone at epoch 1 (the file's initial assignment), sorted by shard id */
  shards: Map<ShardId, ZoneId>;
  keys: { merchant: Record<string, ShardId>; user: Record<string, ShardId>; rider: Record<string, ShardId> };
  tables: Table[];
  deployment: {
    gzs: Endpoint;
    router: Endpoint;
    links?: Endpoint;
    zookeeper?: Endpoint;
    zones: Record<ZoneId, ZoneDeployment>;
  };
}
