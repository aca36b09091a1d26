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

/** A table DRC replicates (and digests compare): sharded (written by the shard's owner) or global (by the master). */
export interface Table {
  name: string;
  kind: 'sharded' | 'global';
  shardColumn?: string;
  /** sharded tables: a column holding order ids (the id embeds its shard, DESIGN §2) */
  orderIdColumn?: string;
  primaryKey: string[];
  updatedAt: string;
  cacheKey?: string;
}

/** A table each eZone writes freely (the DAL lets it through): not replicated, not checked. */
export interface LocalTable {
  name: string;
  kind: 'local';
}

/** Round trips of the links between sites, in milliseconds (`ezctl up` slows its link server's links by them). */
export interface Network {
  /** between any two eZones, unless a pair says otherwise */
  rttMs: number;
  /** from APIRouter's site ("edge") to each eZone */
  edgeRttMs: number;
  /** per-pair overrides; each unordered pair at most once */
  pairs: { zones: [ZoneId, ZoneId]; rttMs: number }[];
}

/** A host of the cluster (topology `hosts`; `local` is always there: this machine on 127.0.0.1). */
export interface HostEntry {
  name: string;
  /** the address parts on this host bind to and peers reach them by */
  address: string;
  /** how the control machine reaches it; absent: this machine */
  ssh?: { user: string; address: string; port: number };
  /** private key file (else ssh-agent / ssh's defaults) */
  key?: string;
  /** known_hosts file (else the control machine's own) */
  knownHosts?: string;
  /** working directory: the project copy and the clusters' data (remote hosts; default /var/lib/ezctl) */
  dir: string;
}

export interface Endpoint {
  /** a name in `Topology.hosts` */
  host: string;
  port: number;
}

/** GZS's endpoint and the eZone whose site it runs at (default: the Global-Zone master). */
export interface GzsEndpoint extends Endpoint {
  zone: ZoneId;
}

export type ZonePorts = Record<ZonePortKind, number>;

/** The processes of one eZone, each of which may run on its own host (`deployment.zones.<id>.parts`). */
export const ZONE_PARTS = ['mariadb', 'redis', 'drc', 'dal', 'invalidator', 'orders', 'soa'] as const;
export type ZonePart = (typeof ZONE_PARTS)[number];

export interface ZoneDeployment {
  /** a name in `Topology.hosts`: where the eZone's parts run unless `parts` says otherwise */
  host: string;
  /** the host of each part (every part listed; `host` where the file names none) */
  parts: Record<ZonePart, string>;
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
  /** the replicated tables only (sharded and global): what DRC and digests iterate */
  tables: Table[];
  /** tables each eZone writes freely (`kind: local`) */
  localTables: LocalTable[];
  network: Network;
  /** every host by name, `local` included */
  hosts: Record<string, HostEntry>;
  deployment: {
    gzs: GzsEndpoint;
    router: Endpoint;
    links?: Endpoint;
    zookeeper?: Endpoint;
    zones: Record<ZoneId, ZoneDeployment>;
  };
}
