/**
 * Flags of a long-running part's process (`node dist/src/<part>/main.js --flag value`), each with
 * an environment fallback, parsed and checked in one place (src/util/parse.ts's parsers) so every
 * part reads its command line the same way and answers a bad flag with one line and exit code 2.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../util/errors.js';
import {
  type DurationBounds,
  type HostPort,
  parseBaseUrl,
  parseDuration,
  parseHostPort,
  parseInteger,
} from '../util/parse.js';

export interface Flag<T> {
  /** string flags take a value; booleans do not */
  type: 'string' | 'boolean';
  /** may be given several times (and comma-separated): the value is a list */
  multiple?: boolean;
  /** environment variable read when the flag is absent; default `EZ_<PART>_<FLAG>` */
  env?: string;
  required?: boolean;
  description: string;
  /** shown in --help */
  placeholder?: string;
  parse(text: string, what: string): T;
  /** the value when neither the flag nor its environment variable is given */
  fallback?: T;
  /** the value names an eZone: checked against the topology once it is loaded */
  zone?: boolean;
}

export type FlagSpecs = Record<string, Flag<unknown>>;

/** The parsed values: what `parse` returns (or the fallback), undefined when absent and optional. */
export type FlagValues<S extends FlagSpecs> = {
  [K in keyof S]: S[K] extends Flag<infer T>
    ? S[K] extends { required: true } | { fallback: T }
      ? T
      : T | undefined
    : never;
};

type Opts<T> = { env?: string; required?: boolean; fallback?: T };
/** no options given (an empty object type, spelled so lint accepts it) */
type NoOptions = Record<never, never>;

/** A flag builder keeps the literal options (`required: true`, `fallback`) in the type. */
type Builder<T> = <const O extends Opts<T> = NoOptions>(o?: O) => Flag<T> & O;
const make =
  <T>(base: Flag<T>): Builder<T> =>
  (o) =>
    ({ ...base, ...o }) as Flag<T> & NonNullable<typeof o>;

const text = (description: string, placeholder: string): Flag<string> => ({
  type: 'string',
  description,
  placeholder,
  parse: (t) => t,
});

export const flag = {
  string: <const O extends Opts<string> = NoOptions>(description: string, o?: O) =>
    make(text(description, 'TEXT'))(o),
  /** an eZone id of the topology (checked once the topology is loaded) */
  zone: <const O extends Opts<string> = NoOptions>(description: string, o?: O) =>
    make({ ...text(description, 'EZONE'), zone: true })(o),
  /** a file path (checked by whoever opens it) */
  file: <const O extends Opts<string> = NoOptions>(description: string, o?: O) =>
    make(text(description, 'FILE'))(o),
  int: <const O extends Opts<number> = NoOptions>(description: string, min: number, max: number, o?: O) =>
    make<number>({
      type: 'string',
      description,
      placeholder: `${min}..${max}`,
      parse: (t, what) => parseInteger(t, what, min, max),
    })(o),
  port: <const O extends Opts<number> = NoOptions>(description: string, o?: O) =>
    make<number>({
      type: 'string',
      description,
      placeholder: 'PORT',
      parse: (t, what) => parseInteger(t, what, 0, 65535),
    })(o),
  /** `500ms`, `2s`; a bare number is milliseconds */
  duration: <const O extends Opts<number> = NoOptions>(
    description: string,
    bounds: DurationBounds = {},
    o?: O,
  ) =>
    make<number>({
      type: 'string',
      description,
      placeholder: 'DURATION',
      parse: (t, what) => parseDuration(t, what, bounds),
    })(o),
  hostPort: <const O extends Opts<HostPort> = NoOptions>(description: string, o?: O) =>
    make<HostPort>({
      type: 'string',
      description,
      placeholder: 'HOST:PORT',
      parse: (t, what) => parseHostPort(t, what),
    })(o),
  /** one or more base URLs: repeatable and comma-separated */
  urls: <const O extends Opts<string[]> = NoOptions>(description: string, o?: O) =>
    make<string[]>({
      type: 'string',
      multiple: true,
      description,
      placeholder: 'URL',
      parse: (t, what) => [parseBaseUrl(t, what)],
    })(o),
  /** `KEY=VALUE` items, repeatable */
  pairs: <const O extends Opts<[string, string][]> = NoOptions>(description: string, o?: O) =>
    make<[string, string][]>({
      type: 'string',
      multiple: true,
      description,
      placeholder: 'KEY=VALUE',
      parse: (t, what) => {
        const eq = t.indexOf('=');
        if (eq < 1) throw new UsageError(`${what}: ${JSON.stringify(t)} is not KEY=VALUE`);
        return [[t.slice(0, eq), t.slice(eq + 1)]];
      },
    })(o),
  bool: (description: string, o: { env?: string } = {}) =>
    make<boolean>({
      type: 'boolean',
      description,
      parse: (t, what) => {
        if (/^(1|true|yes|on)$/i.test(t)) return true;
        if (/^(0|false|no|off|)$/i.test(t)) return false;
        throw new UsageError(`${what}: expected true or false, got ${JSON.stringify(t)}`);
      },
    })({ ...o, fallback: false as boolean }),
  oneOf: <T extends string, const O extends Opts<T> = NoOptions>(
    description: string,
    values: readonly T[],
    o?: O,
  ) =>
    make<T>({
      type: 'string',
      description,
      placeholder: values.join('|'),
      parse: (t, what) => {
        if (!(values as readonly string[]).includes(t))
          throw new UsageError(`${what}: expected ${values.join(' or ')}, got ${JSON.stringify(t)}`);
        return t as T;
      },
    })(o),
};

export const envName = (part: string, name: string): string =>
  `EZ_${part}_${name}`.toUpperCase().replace(/[^A-Z0-9]+/g, '_');

/**
 * Parse argv against the specs: flag first, then its environment variable, then the fallback.
 * Lists concatenate repeated and comma-separated values. UsageError (exit 2) on anything unknown,
 * malformed or missing.
 */
export function parseFlags<S extends FlagSpecs>(
  part: string,
  specs: S,
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): FlagValues<S> & { help: boolean } {
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        help: { type: 'boolean' },
        ...Object.fromEntries(
          Object.entries(specs).map(([k, s]) => [k, { type: s.type, multiple: s.multiple === true }]),
        ),
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message.replace(/\. To specify.*$/s, '')} (see --help)`);
  }
  const out: Record<string, unknown> = { help: values.help === true };
  for (const [name, spec] of Object.entries(specs)) {
    const envVar = spec.env ?? envName(part, name);
    const given = values[name];
    let texts: string[] | undefined;
    let what = `--${name}`;
    if (given !== undefined) {
      texts = (Array.isArray(given) ? given : [given]).map(String);
    } else if (env[envVar] !== undefined && env[envVar] !== '') {
      texts = [env[envVar]!];
      what = `${envVar} (environment)`;
    }
    if (texts === undefined) {
      if (spec.required) throw new UsageError(`--${name} is required: ${spec.description}`);
      out[name] = spec.fallback;
      continue;
    }
    if (spec.multiple) {
      const items = texts.flatMap((t) => t.split(',')).filter((t) => t.trim() !== '');
      out[name] = items.flatMap((t) => spec.parse(t.trim(), what) as unknown[]);
    } else if (spec.type === 'boolean' && given !== undefined) {
      out[name] = true;
    } else {
      out[name] = spec.parse(texts[texts.length - 1], what);
    }
  }
  return out as FlagValues<S> & { help: boolean };
}

/** `--help` text: one line per flag with its placeholder, environment variable and meaning. */
export function usage(part: string, summary: string, specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([name, s]) => {
    const left = `  --${name}${s.type === 'string' ? ` ${s.placeholder ?? 'VALUE'}` : ''}`;
    return {
      left,
      right: `${s.description}${s.required ? ' (required)' : ''} [env ${s.env ?? envName(part, name)}]`,
    };
  });
  const w = Math.max(...rows.map((r) => r.left.length), 10) + 2;
  return [
    `${part}: ${summary}`,
    '',
    `usage: node dist/src/${part}/main.js [flags]`,
    '',
    ...rows.map((r) => `${r.left.padEnd(w)}${r.right}`),
    `${'  --help'.padEnd(w)}this text`,
  ].join('\n');
}
