import { z } from 'zod';
import { quote } from '../util/validation.js';

/** DESIGN §2: lowercase, starts with a letter, at most 32 characters. */
export const ZONE_ID_RE = /^[a-z][a-z0-9-]{0,31}$/;
export const MAX_SHARD = 1023;

export const ZoneId = z.string({ error: 'expected an eZone id (string)' }).regex(ZONE_ID_RE, {
  error: (iss) => `bad eZone id ${quote(iss.input)}: expected lowercase [a-z][a-z0-9-]{0,31}, e.g. ez-bj`,
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

/** Only `local` for now; a remote host (ssh://user@host) will be another value of this field. */
const Host = z.literal('local', {
  error: (iss) => `unsupported host ${quote(iss.input)}: only "local" is supported so far`,
});

/** Per-eZone process kinds and their default offset from the eZone's portBase. */
export const ZONE_PORT_OFFSETS = {
  mysql: 0,
  redis: 1,
  dal: 2,
  soa: 3,
  orders: 4,
  invalidator: 5,
  /** replicators into this eZone: drc + index of the source eZone (up to 10 sources) */
  drc: 10,
} as const;
export type ZonePortKind = keyof typeof ZONE_PORT_OFFSETS;

const ZonePortsOverride = z.strictObject(
  Object.fromEntries(Object.keys(ZONE_PORT_OFFSETS).map((k) => [k, Port.optional()])) as Record<
    ZonePortKind,
    z.ZodOptional<typeof Port>
  >,
);

const Endpoint = z.strictObject({ host: Host.default('local'), port: Port });

export const TopologyFileSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,31}$/, { error: 'expected a cluster name: lowercase [a-z][a-z0-9-]{0,31}' })
    .optional(),
  database: Database.default('ezshop'),
  zones: z
    .array(
      z.strictObject({
        id: ZoneId,
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
    .array(
      z.strictObject({
        name: SqlIdent,
        kind: z.enum(['sharded', 'global'], {
          error: (iss) => `expected "sharded" or "global", got ${quote(iss.input)}`,
        }),
        shardColumn: SqlIdent.optional(),
        primaryKey: ColumnList.default(['id']),
        updatedAt: SqlIdent.default('updated_at'),
        cacheKey: z
          .string()
          .regex(/\{[A-Za-z_][A-Za-z0-9_]*\}/, {
            error: 'expected a Redis key pattern with {column} placeholders, e.g. "order:{id}"',
          })
          .optional(),
      }),
    )
    .min(1, { error: 'expected at least one replicated table' }),
  deployment: z.strictObject({
    gzs: Endpoint,
    router: Endpoint,
    links: Endpoint.optional(),
    zookeeper: Endpoint.optional(),
    zones: z.record(
      z.string(),
      z.strictObject({
        host: Host.default('local'),
        portBase: Port.optional(),
        ports: ZonePortsOverride.optional(),
      }),
    ),
  }),
});

export type TopologyFile = z.infer<typeof TopologyFileSchema>;
