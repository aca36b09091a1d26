// The topology loader: YAML → zod schema → cross-checks (eZones, shards, tables against the SQL
// schema, ports, fences and their geometry) → a Topology, or one line naming the file and the path.
import { basename, join, relative, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { updatedAtKind } from '../shared/row-version.js';
import { UsageError } from '../util/errors.js';
import { InputFileError, readInputFile } from '../util/input-file.js';
import { JsonTextError, parseJsonText } from '../util/json-text.js';
import { defaultTopologyPath, fixturesDir, resolveFrom } from '../util/paths.js';
import { escapeInvisible, formatPath, quote, summarizeIssues } from '../util/validation.js';
import { checkFenceGeometry, type FenceOverlap } from './fence-geometry.js';
import { resolveHosts } from './hosts.js';
import { LINK_KINDS } from './links.js';
import {
  MAX_SHARD,
  type TopologyFile,
  TopologyFileSchema,
  ZONE_PORT_OFFSETS,
  type ZonePortKind,
} from './schema.js';
import { parseSqlSchema, SqlSchemaError, type SqlTable } from './sql-schema.js';
import {
  type Fence,
  type LocalTable,
  type Network,
  type Position,
  type Table,
  type Topology,
  ZONE_PARTS,
  type ZoneDeployment,
  type ZonePart,
  type ZonePorts,
} from './types.js';

/** A topology file that cannot be used. The message is one line: `file: path.inside: what is wrong`. */
export class TopologyError extends UsageError {
  constructor(message: string) {
    super(message, 'EZ_BAD_TOPOLOGY');
    this.name = 'TopologyError';
  }
}

/** Size limits of the files a topology names (docs/topology.md, "Limits"). */
export const TOPOLOGY_MAX_BYTES = 1 << 20;
export const FENCES_MAX_BYTES = 64 << 20;
export const SCHEMA_MAX_BYTES = 4 << 20;
/** yaml's maxAliasCount (its default, made explicit): how many alias copies a topology may expand to. */
export const YAML_MAX_ALIAS_COUNT = 100;

/** readInputFile, its error re-thrown as a TopologyError (EZ_BAD_TOPOLOGY, exit 2). */
function readTopologyInput(path: string, what: string, maxBytes: number, display: string): string {
  try {
    return readInputFile(path, { what, maxBytes, display });
  } catch (err) {
    if (err instanceof InputFileError) throw new TopologyError(err.message);
    throw err;
  }
}

/** The SQL schema applied to every eZone's MariaDB when a topology names none. */
export const defaultSchemaPath = (): string => join(fixturesDir(), 'sql', 'schema.sql');

/** `a, b, c` cut after `max` names. */
const nameList = (names: readonly string[], max = 10): string =>
  names.length > max ? `${names.slice(0, max).join(', ')}, … (${names.length} in all)` : names.join(', ');

const display = (file: string): string => {
  const rel = relative(process.cwd(), file);
  return escapeInvisible(rel && !rel.startsWith('..') ? rel : file);
};

/** Load and validate a topology file (default: the embedded two-zones topology). */
export function loadTopology(file?: string): Topology {
  const path = resolve(file ?? defaultTopologyPath());
  return parseTopology(readTopologyInput(path, 'topology file', TOPOLOGY_MAX_BYTES, display(path)), path);
}

/** Validate topology YAML text; `file` anchors relative paths (the fences file) and names the file in errors. */
export function parseTopology(text: string, file: string): Topology {
  const where = display(file);
  const fail = (path: string, message: string): never => {
    // paths hold the file's own keys (eZone ids of deployment.zones, key names): escaped too
    throw new TopologyError(`${where}: ${escapeInvisible(path)}: ${message}`);
  };

  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = e.linePos?.[0];
    throw new TopologyError(
      `${where}:${pos ? `${pos.line}:${pos.col}` : ''} YAML syntax: ${escapeInvisible(e.message.split('\n')[0])}`,
    );
  }
  let raw: unknown;
  try {
    // the yaml library's own guard against alias bombs ("billion laughs"): toJS throws past the limit
    raw = doc.toJS({ maxAliasCount: YAML_MAX_ALIAS_COUNT });
  } catch (err) {
    if (!(err instanceof ReferenceError)) throw err;
    throw new TopologyError(
      `${where}: YAML aliases: expanding them takes more than ${YAML_MAX_ALIAS_COUNT} alias copies (an alias bomb?); write the values out or use fewer aliases`,
    );
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    fail('(top level)', 'expected a mapping with zones, globalZone, fences, shards, tables, deployment');
  }
  const parsed = TopologyFileSchema.safeParse(raw);
  if (!parsed.success) throw new TopologyError(`${where}: ${summarizeIssues(parsed.error.issues)}`);
  const t: TopologyFile = parsed.data;

  // eZones: unique ids and server ids.
  const zoneIndex = new Map<string, number>();
  const serverIds = new Map<number, number>();
  const zones = t.zones.map((z, i) => {
    const first = zoneIndex.get(z.id);
    if (first !== undefined)
      fail(`zones[${i}].id`, `duplicate eZone ${quote(z.id)} (first at zones[${first}])`);
    zoneIndex.set(z.id, i);
    const serverId = z.serverId ?? i + 1;
    const sFirst = serverIds.get(serverId);
    if (sFirst !== undefined)
      fail(`zones[${i}].serverId`, `server id ${serverId} already used by zones[${sFirst}]`);
    serverIds.set(serverId, i);
    return { id: z.id, serverId, description: z.description };
  });
  const known = `(known: ${zones.map((z) => z.id).join(', ')})`;
  const checkZone = (path: string, id: string): void => {
    if (!zoneIndex.has(id)) fail(path, `unknown eZone ${quote(id)} ${known}`);
  };

  checkZone('globalZone.master', t.globalZone.master);

  // Shards: each listed once, owned by a known eZone.
  const shards = new Map<number, string>();
  const firstSeen = new Map<number, number>();
  t.shards.forEach((s, i) => {
    checkZone(`shards[${i}].zone`, s.zone);
    if ((s.id === undefined) === (s.range === undefined))
      fail(`shards[${i}]`, 'expected exactly one of "id" or "range"');
    let lo: number;
    let hi: number;
    if (s.id !== undefined) {
      lo = hi = s.id;
    } else {
      [lo, hi] = s.range!.split('-').map(Number);
      if (lo > hi || hi > MAX_SHARD)
        fail(
          `shards[${i}].range`,
          `expected "first-last" with first <= last <= ${MAX_SHARD}, got ${quote(s.range)}`,
        );
    }
    for (let id = lo; id <= hi; id++) {
      const prev = firstSeen.get(id);
      if (prev !== undefined) fail(`shards[${i}]`, `shard ${id} listed twice (first at shards[${prev}])`);
      firstSeen.set(id, i);
      shards.set(id, s.zone);
    }
  });
  const sortedShards = new Map([...shards.entries()].sort((a, b) => a[0] - b[0]));
  const checkShard = (path: string, id: number): void => {
    if (!shards.has(id)) fail(path, `shard ${id} is not listed in shards`);
  };

  const keys = { merchant: t.keys.merchant ?? {}, user: t.keys.user ?? {}, rider: t.keys.rider ?? {} };
  for (const kind of ['merchant', 'user', 'rider'] as const) {
    for (const [k, shard] of Object.entries(keys[kind])) checkShard(`keys.${kind}.${k}`, shard);
  }

  // The SQL schema: every table and column the topology names must exist there.
  const schemaFile = t.schema !== undefined ? resolveFrom(file, t.schema) : defaultSchemaPath();
  const schemaName = escapeInvisible(t.schema ?? display(schemaFile));
  const schemaLabel = `schema (${schemaName})`;
  let sqlTables: Map<string, SqlTable>;
  try {
    sqlTables = parseSqlSchema(
      readTopologyInput(schemaFile, 'schema file', SCHEMA_MAX_BYTES, `${where}: ${schemaLabel}`),
      t.database,
    );
  } catch (err) {
    if (err instanceof SqlSchemaError) fail(`${schemaLabel}:${err.line}`, err.message);
    throw err;
  }
  const rawTables = (raw as { tables?: { primaryKey?: unknown }[] }).tables ?? [];
  const checkSqlTable = (i: number, tb: TopologyFile['tables'][number]): void => {
    const st = sqlTables.get(tb.name);
    if (!st) {
      const alike = [...sqlTables.keys()].find((n) => n.toLowerCase() === tb.name.toLowerCase());
      fail(
        `tables[${i}].name`,
        `${schemaName} creates no table ${quote(tb.name)} in database ${t.database}` +
          (alike
            ? ` (did you mean ${quote(alike)}? table names are case-sensitive)`
            : ` (it creates: ${nameList([...sqlTables.keys()]) || 'none'})`),
      );
      return;
    }
    // a local table needs only to exist; one changed by ALTER TABLE or made by a query: existence only
    if (tb.kind === 'local' || !st.columnsKnown) return;
    const of = `table ${st.name} (${schemaName}:${st.line})`;
    const cols = new Map(st.columns.map((c) => [c.name, c]));
    const column = (path: string, name: string) => {
      const c = cols.get(name);
      if (c) return c;
      const alike = st.columns.find((x) => x.name.toLowerCase() === name.toLowerCase());
      return fail(
        path,
        `${of} has no column ${quote(name)}` +
          (alike
            ? ` (did you mean ${quote(alike.name)}? names must match the schema exactly)`
            : ` (its columns: ${nameList(st.columns.map((x) => x.name))})`),
      );
    };
    for (const [k, c] of tb.primaryKey.entries()) column(`tables[${i}].primaryKey[${k}]`, c);
    if (st.primaryKey === null)
      fail(`tables[${i}].name`, `${of} has no PRIMARY KEY; every replicated table needs one (DESIGN §5)`);
    const pk = st.primaryKey!;
    if (pk.length !== tb.primaryKey.length || !pk.every((c) => tb.primaryKey.includes(c)))
      fail(
        `tables[${i}].primaryKey`,
        `[${tb.primaryKey.join(', ')}]${rawTables[i]?.primaryKey === undefined ? ' (the default)' : ''} is not the PRIMARY KEY of ${of}, which is (${pk.join(', ')}); DRC identifies a row by its primary key`,
      );
    if (tb.kind === 'sharded' && tb.shardColumn) column(`tables[${i}].shardColumn`, tb.shardColumn);
    if (tb.kind === 'sharded' && tb.orderIdColumn) {
      const c = column(`tables[${i}].orderIdColumn`, tb.orderIdColumn);
      if (!/^(bigint|(var)?char|(var)?binary)$/.test(c.type))
        fail(
          `tables[${i}].orderIdColumn`,
          `column ${c.name} of ${of} is ${c.type.toUpperCase()}; an order id (64 bits, DESIGN §2) needs BIGINT (UNSIGNED) or a string column`,
        );
    }
    const at = column(`tables[${i}].updatedAt`, tb.updatedAt);
    if (updatedAtKind(at.type) === null)
      fail(
        `tables[${i}].updatedAt`,
        `column ${at.name} of ${of} is ${at.type.toUpperCase()}; DRC's last-writer-wins needs DATETIME(6) or BIGINT (µs) (DESIGN §5)`,
      );
  };

  // Tables: unique names; sharded tables name their shard column (zod refuses it on the others).
  const tableNames = new Map<string, number>();
  const tables: Table[] = [];
  const localTables: LocalTable[] = [];
  t.tables.forEach((tb, i) => {
    const first = tableNames.get(tb.name);
    if (first !== undefined)
      fail(`tables[${i}].name`, `duplicate table ${quote(tb.name)} (first at tables[${first}])`);
    tableNames.set(tb.name, i);
    if (tb.kind === 'sharded' && !tb.shardColumn)
      fail(`tables[${i}].shardColumn`, 'required for a sharded table (the column holding the shard id)');
    checkSqlTable(i, tb);
    if (tb.kind === 'local') localTables.push({ name: tb.name, kind: 'local' });
    else tables.push({ ...tb, primaryKey: [...tb.primaryKey] });
  });
  if (tables.length === 0) fail('tables', 'expected at least one replicated (sharded or global) table');

  // Network: pairs of two different known eZones, each pair once.
  const pairSeen = new Map<string, number>();
  t.network.pairs.forEach((pair, i) => {
    for (const [k, id] of pair.zones.entries()) checkZone(`network.pairs[${i}].zones[${k}]`, id);
    const [a, b] = pair.zones;
    if (a === b) fail(`network.pairs[${i}].zones`, `names ${quote(a)} twice; a pair is two different eZones`);
    const key = [a, b].sort().join('\n');
    const prev = pairSeen.get(key);
    if (prev !== undefined)
      fail(`network.pairs[${i}].zones`, `the pair ${a}, ${b} is already at network.pairs[${prev}]`);
    pairSeen.set(key, i);
  });
  const network: Network = {
    rttMs: t.network.rtt,
    edgeRttMs: t.network.edgeRtt,
    pairs: t.network.pairs.map((p) => ({ zones: [p.zones[0], p.zones[1]], rttMs: p.rtt })),
  };

  const gzsZone = t.deployment.gzs.zone ?? t.globalZone.master;
  if (t.deployment.gzs.zone !== undefined) checkZone('deployment.gzs.zone', gzsZone);

  // Deployment: exactly the eZones, ports resolved and free of collisions.
  for (const id of Object.keys(t.deployment.zones)) checkZone(`deployment.zones.${id}`, id);
  const used = new Map<number, string>();
  const claim = (port: number, what: string, path: string): void => {
    const other = used.get(port);
    if (other) fail(path, `port ${port} (${what}) collides with ${other}`);
    used.set(port, what);
  };
  for (const name of ['gzs', 'router', 'links', 'zookeeper'] as const) {
    const ep = t.deployment[name];
    if (ep) claim(ep.port, name, `deployment.${name}.port`);
  }
  const deployZones: Record<string, ZoneDeployment> = {};
  for (const z of zones) {
    const d = t.deployment.zones[z.id];
    if (!d) fail('deployment.zones', `missing eZone ${quote(z.id)} (every eZone needs a deployment entry)`);
    const ports = {} as ZonePorts;
    for (const kind of Object.keys(ZONE_PORT_OFFSETS) as ZonePortKind[]) {
      const explicit = d.ports?.[kind];
      const port = explicit ?? (d.portBase !== undefined ? d.portBase + ZONE_PORT_OFFSETS[kind] : undefined);
      if (port === undefined)
        fail(`deployment.zones.${z.id}`, `no port for ${kind}: set portBase or ports.${kind}`);
      if (port! > 65535)
        fail(
          `deployment.zones.${z.id}.portBase`,
          `portBase + ${ZONE_PORT_OFFSETS[kind]} (${kind}) exceeds 65535`,
        );
      ports[kind] = port!;
      claim(
        port!,
        `${kind} of ${z.id}`,
        `deployment.zones.${z.id}.${explicit ? `ports.${kind}` : 'portBase'}`,
      );
    }
    // replicators into this eZone take drc, drc+1, ... one per source eZone
    const drcPath = `deployment.zones.${z.id}.${d.ports?.drc !== undefined ? 'ports.drc' : 'portBase'}`;
    const lastDrc = ports.drc + Math.max(0, zones.length - 2);
    if (lastDrc > 65535)
      fail(
        drcPath,
        `replicators into ${z.id} take ports ${ports.drc}..${lastDrc} (one per other eZone); ${lastDrc} exceeds 65535`,
      );
    for (let k = 1; k < zones.length - 1; k++) claim(ports.drc + k, `drc#${k} of ${z.id}`, drcPath);
    deployZones[z.id] = {
      host: d.host,
      parts: Object.fromEntries(ZONE_PARTS.map((p) => [p, d.parts?.[p] ?? d.host])) as Record<
        ZonePart,
        string
      >,
      ports,
    };
  }
  // every link of `ezctl up` listens right above the link server's port (src/topology/links.ts)
  if (t.deployment.links) {
    const first = t.deployment.links.port + 1;
    const last = first + (zones.length + 1) * zones.length * LINK_KINDS.length - 1;
    if (last > 65535)
      fail('deployment.links.port', `the links take ports ${first}..${last} above it; ${last} exceeds 65535`);
    for (let p = first; p <= last; p++)
      claim(p, `a link listener (${first}..${last})`, 'deployment.links.port');
  }

  const hosts = resolveHosts(
    t,
    zones.map((z) => z.id),
    fail,
  );

  const fencesFile = resolveFrom(file, t.fences);
  const fencesLabel = `fences (${escapeInvisible(t.fences)})`;
  const fences = loadFences(fencesFile, `${where}: ${fencesLabel}`, { overlap: t.fenceOverlap });
  fences.forEach((f) => {
    checkShard(`${fencesLabel}: features[${f.index}].properties.shard`, f.shard);
  });

  return {
    file,
    name: t.name ?? basename(file).replace(/\.ya?ml$/i, ''),
    database: t.database,
    zones,
    globalMaster: t.globalZone.master,
    schemaFile,
    fencesFile,
    fenceOverlap: t.fenceOverlap,
    fences,
    shards: sortedShards,
    keys,
    tables,
    localTables,
    network,
    hosts,
    deployment: {
      gzs: { host: t.deployment.gzs.host, port: t.deployment.gzs.port, zone: gzsZone },
      router: t.deployment.router,
      links: t.deployment.links,
      zookeeper: t.deployment.zookeeper,
      zones: deployZones,
    },
  };
}

export interface FenceOptions {
  /** how overlapping fences resolve (topology `fenceOverlap`): an error (default), or the lowest feature index wins */
  overlap?: FenceOverlap;
}

/** Read a GeoJSON FeatureCollection of Polygon/MultiPolygon features, each with an integer `properties.shard`. */
export function loadFences(file: string, where = file, opts: FenceOptions = {}): Fence[] {
  const text = readTopologyInput(file, 'fences file', FENCES_MAX_BYTES, where);
  let json: unknown;
  try {
    json = parseJsonText(text);
  } catch (err) {
    if (!(err instanceof JsonTextError)) throw err;
    throw new TopologyError(`${where}: not JSON (${err.message})`);
  }
  return parseFences(json, where, opts);
}

/** Validate a parsed GeoJSON FeatureCollection as fences: structure, then geometry (docs/topology.md, "Fences"). */
export function parseFences(json: unknown, where: string, opts: FenceOptions = {}): Fence[] {
  const fail = (path: (string | number)[], message: string): never => {
    throw new TopologyError(`${where}: ${formatPath(path)}: ${message}`);
  };
  const fc = json as { type?: unknown; features?: unknown };
  if (!fc || typeof fc !== 'object' || fc.type !== 'FeatureCollection')
    fail(['type'], 'expected a GeoJSON FeatureCollection');
  if (!Array.isArray(fc.features) || fc.features.length === 0)
    fail(['features'], 'expected a non-empty list of features');
  const multi: boolean[] = [];
  const fences = (fc.features as unknown[]).map((feat, i) => {
    const f = feat as {
      type?: unknown;
      properties?: { shard?: unknown; name?: unknown };
      geometry?: { type?: unknown; coordinates?: unknown };
    };
    if (f?.type !== 'Feature') fail(['features', i, 'type'], 'expected "Feature"');
    const shard = f.properties?.shard;
    if (typeof shard !== 'number' || !Number.isInteger(shard) || shard < 0 || shard > MAX_SHARD) {
      fail(
        ['features', i, 'properties', 'shard'],
        `expected a shard id (integer 0..${MAX_SHARD}), got ${quote(shard)}`,
      );
    }
    const g = f.geometry;
    if (g?.type !== 'Polygon' && g?.type !== 'MultiPolygon')
      fail(
        ['features', i, 'geometry', 'type'],
        `expected "Polygon" or "MultiPolygon", got ${quote(g?.type)}`,
      );
    const isMulti = g!.type === 'MultiPolygon';
    if (!Array.isArray(g!.coordinates) || g!.coordinates.length === 0)
      fail(
        ['features', i, 'geometry', 'coordinates'],
        `expected ${isMulti ? 'a list of polygons (each a list of linear rings)' : 'a list of linear rings'}, got ${quote(g!.coordinates)}`,
      );
    const polys: unknown[] = isMulti ? (g!.coordinates as unknown[]) : [g!.coordinates];
    const polygons = polys.map((poly, p) => {
      const base: (string | number)[] = ['features', i, 'geometry', 'coordinates'];
      if (isMulti) base.push(p);
      if (!Array.isArray(poly) || poly.length === 0)
        fail(base, `expected a polygon: a list of linear rings, got ${quote(poly)}`);
      return (poly as unknown[]).map((ring, r) => checkRing(ring, [...base, r], fail));
    });
    return {
      index: i,
      shard: shard as number,
      name: typeof f.properties?.name === 'string' ? f.properties.name : undefined,
      polygons,
    };
  });
  for (const [i, f] of (fc.features as { geometry: { type: string } }[]).entries())
    multi[i] = f.geometry.type === 'MultiPolygon';
  const issue = checkFenceGeometry(fences, opts.overlap ?? 'error', (f, p) => [
    'features',
    fences[f].index,
    'geometry',
    'coordinates',
    ...(multi[f] ? [p] : []),
  ]);
  if (issue) fail(issue.path, issue.message);
  return fences;
}

function checkRing(
  ring: unknown,
  path: (string | number)[],
  fail: (path: (string | number)[], m: string) => never,
): Position[] {
  if (!Array.isArray(ring) || ring.length < 4)
    fail(path, 'expected a closed linear ring of at least 4 positions');
  const arr = ring as unknown[];
  arr.forEach((pos, k) => {
    const ok =
      Array.isArray(pos) &&
      pos.length >= 2 &&
      typeof pos[0] === 'number' &&
      typeof pos[1] === 'number' &&
      Math.abs(pos[0]) <= 180 &&
      Math.abs(pos[1]) <= 90;
    if (!ok) fail([...path, k], `expected [lng, lat] with |lng| <= 180 and |lat| <= 90, got ${quote(pos)}`);
  });
  const first = arr[0] as number[];
  const last = arr[arr.length - 1] as number[];
  if (first[0] !== last[0] || first[1] !== last[1])
    fail(path, 'ring is not closed (first position must equal the last)');
  return arr as Position[];
}
