import { parseArgs } from 'node:util';
import { loadTopology, type Topology } from '../topology/index.js';
import { UsageError } from '../util/errors.js';
import { type AccessLogOptions, parseAccessLog } from './access-log.js';
import { DEFAULT_POOL, type PoolOptions, parseOrigin } from './upstream.js';

/**
 * Command-line flags the long-running parts share (router, soa, app: `node dist/src/<part>/main.js`).
 * `ezctl up` passes the topology file, the GZS URL(s) and the ports; everything else has defaults.
 */
export const COMMON_OPTIONS = {
  topology: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  gzs: { type: 'string', multiple: true },
  static: { type: 'boolean' },
  'cache-file': { type: 'string' },
  'lock-wait-ms': { type: 'string' },
  'access-log': { type: 'string' },
  'access-log-sample': { type: 'string' },
  connections: { type: 'string' },
  'connect-timeout-ms': { type: 'string' },
  'upstream-timeout-ms': { type: 'string' },
} as const;

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;

export interface CommonArgs {
  topology: Topology;
  host: string;
  port: number | undefined;
  /** GZS URLs (any of them), empty with --static */
  gzs: string[];
  static: boolean;
  cacheFile: string | undefined;
  lockWaitMs: number | undefined;
  accessLog: AccessLogOptions;
  pool: PoolOptions;
}

export function int(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max)
    throw new UsageError(`--${name}: expected an integer ${min}..${max}, got "${text}"`);
  return Number(text);
}

/** Parse argv with the common flags plus a part's own; UsageError on anything unknown or malformed. */
export function parsePartArgs<O extends OptionSpec>(
  argv: string[],
  own: O,
  usage: string,
): { common: CommonArgs; values: Record<string, string | string[] | boolean | undefined> } {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...own }, strict: true }) as {
      values: Record<string, string | string[] | boolean | undefined>;
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (usage: ${usage})`);
  }
  const str = (k: string) => values[k] as string | undefined;
  const topology = loadTopology(str('topology'));
  const gzs = ((values.gzs as string[] | undefined) ?? []).flatMap((g) => g.split(',')).filter(Boolean);
  for (const g of gzs) parseOrigin(g, '--gzs');
  return {
    values,
    common: {
      topology,
      host: str('host') ?? '127.0.0.1',
      port: int('port', str('port'), 0, 65535),
      gzs,
      static: values.static === true,
      cacheFile: str('cache-file'),
      lockWaitMs: int('lock-wait-ms', str('lock-wait-ms'), 0, 60_000),
      accessLog: parseAccessLog(str('access-log'), str('access-log-sample')),
      pool: {
        connections: int('connections', str('connections'), 1, 65535) ?? DEFAULT_POOL.connections,
        connectTimeoutMs:
          int('connect-timeout-ms', str('connect-timeout-ms'), 1, 600_000) ?? DEFAULT_POOL.connectTimeoutMs,
        headersTimeoutMs:
          int('upstream-timeout-ms', str('upstream-timeout-ms'), 1, 3_600_000) ??
          DEFAULT_POOL.headersTimeoutMs,
        bodyTimeoutMs:
          int('upstream-timeout-ms', str('upstream-timeout-ms'), 1, 3_600_000) ?? DEFAULT_POOL.bodyTimeoutMs,
      },
    },
  };
}

/** `ZONE=URL[,URL]` flags into a map; every eZone must be one of the topology's. */
export function parseZoneMap(
  flag: string,
  items: string[] | undefined,
  topology: Topology,
): Record<string, string[]> {
  const known = topology.zones.map((z) => z.id);
  const out: Record<string, string[]> = {};
  for (const item of items ?? []) {
    const eq = item.indexOf('=');
    if (eq < 1)
      throw new UsageError(`--${flag}: "${item}" is not ZONE=URL[,URL] (e.g. ez-bj=http://127.0.0.1:27204)`);
    const zone = item.slice(0, eq);
    if (!known.includes(zone))
      throw new UsageError(`--${flag}: unknown eZone "${zone}" (known: ${known.join(', ')})`);
    out[zone] = item
      .slice(eq + 1)
      .split(',')
      .filter(Boolean)
      .map((u) => parseOrigin(u, `--${flag} ${zone}`));
    if (out[zone].length === 0) throw new UsageError(`--${flag}: no URL for eZone "${zone}"`);
  }
  return out;
}

/** The eZone of a per-eZone part (`--zone`), checked against the topology. */
export function zoneArg(value: unknown, topology: Topology): string {
  const known = topology.zones.map((z) => z.id);
  if (typeof value !== 'string') throw new UsageError(`--zone: required (one of ${known.join(', ')})`);
  if (!known.includes(value))
    throw new UsageError(`--zone: unknown eZone "${value}" (known: ${known.join(', ')})`);
  return value;
}

/** Exit 2 with one line for a usage error, 1 for anything else: never a stack trace. */
export function failAndExit(part: string, err: unknown): never {
  const code = err instanceof UsageError ? 2 : 1;
  const e = err as { code?: string; message?: string };
  process.stderr.write(
    `${part}: ${e.code && e.code !== 'EZ_USAGE' ? `${e.code}: ` : ''}${e.message ?? String(err)}\n`,
  );
  process.exit(code);
}
