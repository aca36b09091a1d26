import { z } from 'zod';
import { quote } from '../util/validation.js';

/** DESIGN §2: lowercase, starts with a letter, at most 32 characters. */
export const ZONE_ID_RE = /^[a-z][a-z0-9-]{0,31}$/;
export const MAX_SHARD = 1023;

export const ZoneId = z.string({ error: 'expected an eZone id (string)' }).regex(ZONE_ID_RE, {
  error: (iss) => `bad eZone id ${quote(iss.input)}: expected lowercase [a-z][a-z0-9-]{0,31}, e.g. ez-bj`,
});

/** The site name of APIRouter ("the edge") in link names such as `edge->ez-bj:api`: not an eZone id. */
export const EDGE_SITE = 'edge';

/** An eZone id as declared in `zones[]`: also not the edge's site name. */
const DeclaredZoneId = ZoneId.refine((id) => id !== EDGE_SITE, {
  error: `"${EDGE_SITE}" is reserved: it names APIRouter's site in link names (edge->ez-bj:api); choose another id`,
});

export const ShardId = z
  .number({
    error: (iss) => `expected a shard id (integer 0..${MAX_SHARD}), got ${quote(iss.input)}`,
  })
  .int({ error: (iss) => `expected a shard id (integer 0..${MAX_SHARD}), got ${iss.input}` })
  .min(0, { error: (iss) => `expected a shard id (integer 0..${MAX_SHARD}), got ${iss.input}` })
  .max(MAX_SHARD, { error: (iss) => `expected a shard id (integer 0..${MAX_SHARD}), got ${iss.input}` });

const SqlIdent = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, {
  error: (iss) => `bad SQL identifier ${quote(iss.input)}: expected [A-Za-z_][A-Za-z0-9_]*`,
});

/** MariaDB/MySQL's own schemas: the replicated tables must not live there (compared case-insensitively). */
export const SYSTEM_SCHEMAS = ['mysql', 'information_schema', 'performance_schema', 'sys'] as const;

const Database = SqlIdent.refine(
  (name) => !(SYSTEM_SCHEMAS as readonly string[]).includes(name.toLowerCase()),
  {
    error: (iss) =>
      `${quote(iss.input)} is a system schema of MariaDB/MySQL (${SYSTEM_SCHEMAS.join(', ')}); name the database of the replicated tables, e.g. ezshop`,
  },
);

/** A list of column names, none twice. */
const ColumnList = z
  .array(SqlIdent)
  .min(1)
  .superRefine((cols, ctx) => {
    cols.forEach((c, i) => {
      const first = cols.indexOf(c);
      if (first < i)
        ctx.addIssue({
          code: 'custom',
          path: [i],
          message: `column ${quote(c)} listed twice (first at primaryKey[${first}])`,
        });
    });
  });

/** MariaDB's server_id and gtid_domain_id are 32-bit unsigned; 0 means "none". */
const serverIdError = (iss: { input?: unknown }) =>
  `expected a server id (integer 1..4294967295), got ${quote(iss.input)}`;
const ServerId = z
  .number({ error: serverIdError })
  .int({ error: serverIdError, abort: true })
  .min(1, { error: serverIdError, abort: true })
  .max(4294967295, { error: serverIdError });

const KeyName = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, {
  error: (iss) => `bad key ${quote(iss.input)}: expected 1-64 of [A-Za-z0-9_.:-]`,
});

const Port = z
  .number({ error: (iss) => `expected a TCP port (integer 1..65535), got ${quote(iss.input)}` })
  .int()
  .min(1, { error: 'expected a TCP port (integer 1..65535)' })
  .max(65535, { error: 'expected a TCP port (integer 1..65535)' });

/** A host name as `hosts` declares it (or `local`, the control machine on 127.0.0.1). */
export const HOST_NAME_RE = /^[a-z][a-z0-9-]{0,31}$/;
export const LOCAL_HOST = 'local';

/** Where a process runs: `local`, or a name declared under `hosts` (checked by the loader). */
const Host = z
  .string({ error: 'expected a host name (local, or a name declared under hosts)' })
  .regex(HOST_NAME_RE, {
    error: (iss) =>
      `bad host name ${quote(iss.input)}: expected local or a name under hosts ([a-z][a-z0-9-]{0,31})`,
  });

const absolutePath = (what: string) =>
  z.string({ error: `expected ${what} (an absolute path)` }).refine((p) => p.startsWith('/'), {
    error: (iss) => `expected ${what} as an absolute path, got ${quote(iss.input)}`,
  });

/** `ssh://user@address[:port]`: how the control machine reaches a remote host. */
export const SSH_URL_RE =
  /^ssh:\/\/([a-z_][a-z0-9_.-]{0,31})@([A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:]+\])(?::(\d{1,5}))?$/;

/** An address other hosts reach a host by: an IPv4/IPv6 literal or a DNS name. */
const Address = z
  .string({ error: 'expected an address (IP or DNS name)' })
  .regex(/^([A-Za-z0-9.-]{1,253}|[0-9A-Fa-f:]+)$/, {
    error: (iss) => `bad address ${quote(iss.input)}: expected an IP address or a DNS name, e.g. 10.231.0.11`,
  });

/**
 * A host of the cluster. With `ssh`: a remote machine (`ssh://user@address[:port]`, key from
 * ssh-agent or `key`, working directory `dir`). Without: this machine, on `address` (so parts
 * here are reachable from the remote hosts, e.g. the bridge address).
 */
const HostEntry = z.strictObject({
  ssh: z
    .string({ error: 'expected ssh://user@address[:port]' })
    .regex(SSH_URL_RE, {
      error: (iss) =>
        `bad ssh address ${quote(iss.input)}: expected ssh://user@address[:port], e.g. ssh://root@10.231.0.11`,
    })
    .optional(),
  address: Address.optional(),
  key: absolutePath('a private key file').optional(),
  knownHosts: absolutePath('a known_hosts file').optional(),
  dir: absolutePath('a working directory').optional(),
});

/** Per-eZone process kinds and their default offset from the eZone's portBase. */
export const ZONE_PORT_OFFSETS = {
  mysql: 0,
  redis: 1,
  dal: 2,
  soa: 3,
  orders: 4,
  invalidator: 5,
  /** the DAL's /healthz and /metrics (its `dal` port speaks MySQL) */
  dalHttp: 6,
  /** replicators into this eZone: drc + index of the source eZone (up to 10 sources) */
  drc: 10,
} as const;
export type ZonePortKind = keyof typeof ZONE_PORT_OFFSETS;

const ZonePortsOverride = z.strictObject({
  ...(Object.fromEntries(Object.keys(ZONE_PORT_OFFSETS).map((k) => [k, Port.optional()])) as Record<
    ZonePortKind,
    z.ZodOptional<typeof Port>
  >),
  // the order service's port kind was `app` until the rename: say so rather than "unknown key"
  app: z.never({ error: '"app" was renamed "orders" (the order service); write ports.orders' }).optional(),
});

const Endpoint = z.strictObject({ host: Host.default(LOCAL_HOST), port: Port });

/** GZS's endpoint, and the eZone whose site it runs at (holders elsewhere reach it through a link). */
const GzsEndpoint = z.strictObject({ host: Host.default(LOCAL_HOST), port: Port, zone: ZoneId.optional() });

/** The longest round trip a link may be given (a minute: anything longer is a cut, not a latency). */
export const MAX_RTT_MS = 60_000;

const durationError = (got: unknown): string =>
  got === undefined
    ? 'required (a duration, e.g. 30ms)'
    : `expected a duration ("30ms", "1.5s", or an integer of milliseconds), got ${quote(got)}`;

/** `30ms`, `1.5s`, or a plain integer of milliseconds; 0..MAX_RTT_MS; the result in milliseconds. */
const Duration = z
  .union([z.number(), z.string()], { error: (iss) => durationError(iss.input) })
  .transform((v, ctx) => {
    let ms: number;
    if (typeof v === 'number') {
      if (!Number.isFinite(v) || v < 0) {
        ctx.addIssue({ code: 'custom', message: durationError(v) });
        return z.NEVER;
      }
      if (!Number.isInteger(v)) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a duration: a plain number is whole milliseconds (write "${v}ms" or "${v}s"), got ${quote(v)}`,
        });
        return z.NEVER;
      }
      ms = v;
    } else {
      const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*$/.exec(v);
      if (!m) {
        ctx.addIssue({ code: 'custom', message: durationError(v) });
        return z.NEVER;
      }
      // to the microsecond: 1.1 * 1000 is 1100.0000000000002
      ms = Math.round(Number(m[1]) * (m[2] === 's' ? 1000 : 1) * 1000) / 1000;
    }
    if (ms > MAX_RTT_MS) {
      ctx.addIssue({ code: 'custom', message: `${ms} ms is more than the maximum ${MAX_RTT_MS} ms` });
      return z.NEVER;
    }
    return ms;
  });

const Network = z
  .strictObject({
    /** round trip between any two eZones (Beijing–Shanghai) */
    rtt: Duration.default(30),
    /** round trip from APIRouter's site to each eZone */
    edgeRtt: Duration.default(2),
    pairs: z
      .array(
        z.strictObject({
          zones: z.tuple([ZoneId, ZoneId], { error: 'expected two eZone ids, e.g. [ez-bj, ez-sh]' }),
          rtt: Duration,
        }),
        { error: 'expected a list of { zones: [a, b], rtt }' },
      )
      .default([]),
  })
  .default({ rtt: 30, edgeRtt: 2, pairs: [] });

const CacheKey = z.string().regex(/\{[A-Za-z_][A-Za-z0-9_]*\}/, {
  error: 'expected a Redis key pattern with {column} placeholders, e.g. "order:{id}"',
});

/** Fields of a table DRC replicates. */
const replicated = {
  name: SqlIdent,
  primaryKey: ColumnList.default(['id']),
  updatedAt: SqlIdent.default('updated_at'),
  cacheKey: CacheKey.optional(),
};
const notReplicated = z
  .never({ error: 'a local table is not replicated: primaryKey, updatedAt and cacheKey do not apply' })
  .optional();

const TableSchema = z.discriminatedUnion(
  'kind',
  [
    // shardColumn required: checked by the loader, with a message that says what it is
    z.strictObject({
      kind: z.literal('sharded'),
      ...replicated,
      shardColumn: SqlIdent.optional(),
      // a column holding order ids, whose shard the id embeds (DESIGN §2): the DAL derives the
      // shard of `WHERE id = …` from it
      orderIdColumn: SqlIdent.optional(),
    }),
    z.strictObject({
      kind: z.literal('global'),
      ...replicated,
      shardColumn: z.never({ error: 'a global table has no shard column' }).optional(),
      orderIdColumn: z
        .never({ error: 'a global table has no order-id column (it is not sharded)' })
        .optional(),
    }),
    z.strictObject({
      kind: z.literal('local'),
      name: SqlIdent,
      shardColumn: z
        .never({
          error: 'a local table has no shard column (it is not sharded: each eZone writes its own rows)',
        })
        .optional(),
      orderIdColumn: z
        .never({ error: 'a local table has no order-id column (it is not sharded)' })
        .optional(),
      primaryKey: notReplicated,
      updatedAt: notReplicated,
      cacheKey: notReplicated,
    }),
  ],
  {
    error: (iss) =>
      iss.code === 'invalid_union'
        ? `expected "sharded", "global" or "local", got ${quote((iss.input as { kind?: unknown } | undefined)?.kind)}`
        : undefined,
  },
);

export const TopologyFileSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,31}$/, { error: 'expected a cluster name: lowercase [a-z][a-z0-9-]{0,31}' })
    .optional(),
  database: Database.default('ezshop'),
  zones: z
    .array(
      z.strictObject({
        id: DeclaredZoneId,
        serverId: ServerId.optional(),
        description: z.string().optional(),
      }),
      { error: 'expected a list of eZones' },
    )
    .min(1, { error: 'expected at least one eZone' }),
  globalZone: z.strictObject({ master: ZoneId }),
  fences: z.string({ error: 'expected the path of a GeoJSON FeatureCollection file' }).min(1),
  fenceOverlap: z
    .enum(['error', 'first-wins'], {
      error: (iss) => `expected "error" or "first-wins", got ${quote(iss.input)}`,
    })
    .default('error'),
  schema: z
    .string({ error: 'expected the path of a SQL schema file (CREATE TABLE statements)' })
    .min(1)
    .optional(),
  shards: z
    .array(
      z.strictObject({
        id: ShardId.optional(),
        range: z
          .string()
          .regex(/^\d{1,4}-\d{1,4}$/, { error: 'expected a shard range "first-last", e.g. "0-15"' })
          .optional(),
        zone: ZoneId,
      }),
      { error: 'expected a list of {id|range, zone}' },
    )
    .min(1, { error: 'expected at least one shard' }),
  keys: z
    .strictObject({
      merchant: z.record(KeyName, ShardId).optional(),
      user: z.record(KeyName, ShardId).optional(),
      rider: z.record(KeyName, ShardId).optional(),
    })
    .default({}),
  tables: z
    .array(TableSchema, {
      error: (iss) => (iss.input === undefined ? 'required (a list of tables)' : 'expected a list of tables'),
    })
    .min(1, { error: 'expected at least one table' }),
  network: Network,
  hosts: z.record(z.string(), HostEntry).default({}),
  deployment: z.strictObject({
    gzs: GzsEndpoint,
    router: Endpoint,
    links: Endpoint.optional(),
    zookeeper: Endpoint.optional(),
    zones: z.record(
      z.string(),
      z.strictObject({
        host: Host.default(LOCAL_HOST),
        /** parts of this eZone on another host than `host` (e.g. MariaDB and Redis on a database machine) */
        parts: z
          .strictObject({
            mariadb: Host.optional(),
            redis: Host.optional(),
            drc: Host.optional(),
            dal: Host.optional(),
            invalidator: Host.optional(),
            orders: Host.optional(),
            soa: Host.optional(),
          })
          .optional(),
        portBase: Port.optional(),
        ports: ZonePortsOverride.optional(),
      }),
    ),
  }),
});

export type TopologyFile = z.infer<typeof TopologyFileSchema>;
