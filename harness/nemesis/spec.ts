/**
 * A nemesis from a drill file's schedule entry (YAML/JSON), validated with zod: the entry names the
 * nemesis (`nemesis: partition`) and its parameters; the schedule's own keys (`at`, `for`) are the
 * generator's and are ignored here. An error names the field and what is expected, e.g.
 * `schedule[2] (partition): mode: expected one of "stall"|"refuse"|"blackhole"`.
 *
 * ```yaml
 * schedule:
 *   - { at: 5s, for: 10s, nemesis: latency, between: [ez-bj, ez-sh], latency: 200ms, jitter: 50ms }
 *   - { at: 20s, for: 10s, nemesis: partition, between: [ez-bj, ez-sh], mode: stall }
 *   - { at: 35s, for: 10s, nemesis: isolate, zone: ez-sh, mode: refuse }
 *   - { at: 50s, for: 5s, nemesis: kill-dal, zone: ez-sh }
 *   - { at: 60s, for: 5s, nemesis: kill-drc, from: ez-bj, to: ez-sh }
 *   - { at: 70s, for: 5s, nemesis: kill-gzs }
 *   - { at: 75s, for: 10s, nemesis: clock, zone: ez-sh, offset: -30s }
 *   - { at: 80s, nemesis: move, shards: [3], to: ez-bj, timeout: 5s }
 *   - { at: 90s, for: 60s, nemesis: kill-zone, zone: ez-sh }
 *   - { at: 91s, nemesis: failover, from: ez-sh, to: ez-bj, whenDown: 30s, downAfter: 1s }
 *   - { at: 160s, nemesis: failback, zone: ez-sh }
 * ```
 */
import { z } from 'zod';
import type { Topology } from '../../src/topology/index.js';
import { UsageError } from '../../src/util/errors.js';
import { parseDuration } from '../../src/util/parse.js';
import { quote, summarizeIssues } from '../../src/util/validation.js';
import { clockNemesis } from './clock.js';
import { killDalNemesis, killDrcNemesis, killGzsNemesis, killZoneNemesis } from './kill.js';
import { isolateNemesis, latencyNemesis, partitionNemesis } from './links.js';
import { failbackNemesis, failoverNemesis, moveNemesis } from './switch.js';
import type { Nemesis } from './types.js';

/** Keys of a schedule entry that belong to the generator (when, for how long), not to the nemesis. */
export const SCHEDULE_KEYS = ['at', 'for'] as const;

/** zod's error option: `required (…)` when the field is missing, else what is expected. */
const expected =
  (what: string) =>
  (issue: { input: unknown }): string =>
    issue.input === undefined ? `required (${what})` : what;

/** `200ms`, `1.5s`, or a number of milliseconds, within [min, max]. */
const duration = (min: number, max: number) =>
  z
    .union([z.number(), z.string()], {
      error: expected('expected a duration (e.g. 200ms, 1.5s, or a number of ms)'),
    })
    .transform((v, ctx) => {
      try {
        return parseDuration(v, 'duration', { min, max });
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^duration: /, '') });
        return z.NEVER;
      }
    });

/** A signed duration (`-30s`, `+2s`, `500ms`): for clock offsets. */
const signedDuration = (max: number) =>
  z
    .union([z.number(), z.string()], { error: expected('expected a signed duration (e.g. -30s, +500ms)') })
    .transform((v, ctx) => {
      const text = String(v).trim();
      try {
        const ms = parseDuration(text.replace(/^[-+]/, ''), 'offset', { min: 0, max });
        return text.startsWith('-') ? -ms : ms;
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^offset: /, '') });
        return z.NEVER;
      }
    });

const zone = z
  .string({ error: expected('expected an eZone id (e.g. ez-bj)') })
  .min(1, 'expected an eZone id');
const mode = z.enum(['stall', 'refuse', 'blackhole'], {
  error: expected('expected one of "stall", "refuse", "blackhole"'),
});
const pair = z
  .tuple([zone, zone], { error: expected('expected two eZone ids, e.g. [ez-bj, ez-sh]') })
  .refine(([a, b]) => a !== b, 'expected two different eZones');

const SPECS = {
  latency: z
    .strictObject({
      between: pair.optional(),
      zone: zone.optional(),
      latency: duration(1, 60_000),
      jitter: duration(0, 60_000).default(0),
    })
    .refine((o) => (o.between === undefined) !== (o.zone === undefined), {
      message: 'expected exactly one of between: [A, B] (an eZone pair) or zone: A (every link of A)',
      path: ['between'],
    }),
  partition: z.strictObject({ between: pair, mode: mode.default('stall') }),
  isolate: z.strictObject({ zone, mode: mode.default('stall') }),
  'kill-zone': z.strictObject({ zone }),
  'kill-drc': z
    .strictObject({ from: zone, to: zone })
    .refine((o) => o.from !== o.to, { message: 'expected two different eZones', path: ['to'] }),
  'kill-gzs': z.strictObject({}),
  'kill-dal': z.strictObject({ zone }),
  clock: z.strictObject({ zone, offset: signedDuration(86_400_000) }),
  move: z.strictObject({
    shards: z
      .array(
        z
          .number({ error: expected('expected a shard number') })
          .int('expected a whole shard number')
          .min(0),
        {
          error: expected('expected a list of shard numbers, e.g. [3, 7]'),
        },
      )
      .min(1, 'expected at least one shard'),
    to: zone,
    timeout: duration(1, 600_000).optional(),
    maxLag: duration(1, 600_000).optional(),
  }),
  failover: z
    .strictObject({
      from: zone,
      to: zone,
      whenDown: duration(0, 600_000).optional(),
      downAfter: duration(0, 600_000).optional(),
      force: z.boolean({ error: expected('expected true or false') }).optional(),
    })
    .refine((o) => o.from !== o.to, { message: 'expected two different eZones', path: ['to'] }),
  failback: z.strictObject({
    zone,
    timeout: duration(1, 600_000).optional(),
    maxLag: duration(1, 600_000).optional(),
  }),
} as const;

export type NemesisName = keyof typeof SPECS;
export const NEMESIS_NAMES = Object.keys(SPECS) as NemesisName[];
/** One-shot actions: no `stop`, no `for` in the schedule. */
export const ACTIONS: readonly NemesisName[] = ['move', 'failover', 'failback'];

export interface FromSpecOptions {
  /** where the entry is, for messages (default `schedule entry`), e.g. `drill.yaml: schedule[2]` */
  where?: string;
  /** check eZone ids and shards against it */
  topology?: Topology;
}

function checkTopology(
  name: NemesisName,
  p: Record<string, unknown>,
  t: Topology,
): { field: string; message: string } | null {
  const known = t.zones.map((z) => z.id);
  const zoneFields: [string, unknown][] = [];
  for (const k of ['zone', 'from', 'to']) if (typeof p[k] === 'string') zoneFields.push([k, p[k]]);
  if (Array.isArray(p.between))
    for (const [i, z] of p.between.entries()) zoneFields.push([`between[${i}]`, z]);
  for (const [field, z] of zoneFields)
    if (!known.includes(z as string))
      return { field, message: `unknown eZone ${quote(z)} (expected one of ${known.join(', ')})` };
  if (name === 'move')
    for (const [i, s] of (p.shards as number[]).entries())
      if (!t.shards.has(s))
        return {
          field: `shards[${i}]`,
          message: `no shard ${s} in topology ${t.name} (${t.shards.size} shards)`,
        };
  return null;
}

/** Build a nemesis from a schedule entry; a UsageError names the field and what is expected. */
export function nemesisFromSpec(spec: unknown, opts: FromSpecOptions = {}): Nemesis {
  const where = opts.where ?? 'schedule entry';
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec))
    throw new UsageError(
      `${where}: expected a mapping with a nemesis (e.g. { nemesis: partition, between: [A, B] }), got ${quote(spec)}`,
    );
  const { nemesis: name, ...rest } = spec as Record<string, unknown>;
  if (name === undefined)
    throw new UsageError(`${where}: nemesis: required (expected one of ${NEMESIS_NAMES.join(', ')})`);
  if (typeof name !== 'string' || !(name in SPECS))
    throw new UsageError(
      `${where}: nemesis: unknown nemesis ${quote(name)} (expected one of ${NEMESIS_NAMES.join(', ')})`,
    );
  const n = name as NemesisName;
  const at = `${where} (${n})`;
  if (ACTIONS.includes(n) && rest.for !== undefined)
    throw new UsageError(`${at}: for: ${n} is a one-shot action (no stop): remove "for"`);
  for (const k of SCHEDULE_KEYS) delete rest[k];
  const parsed = SPECS[n].safeParse(rest);
  if (!parsed.success) throw new UsageError(`${at}: ${summarizeIssues(parsed.error.issues)}`);
  const p = parsed.data as Record<string, unknown>;
  if (opts.topology) {
    const bad = checkTopology(n, p, opts.topology);
    if (bad) throw new UsageError(`${at}: ${bad.field}: ${bad.message}`);
  }
  return build(n, p);
}

function build(n: NemesisName, p: Record<string, any>): Nemesis {
  switch (n) {
    case 'latency':
      return p.zone !== undefined
        ? latencyNemesis({ from: p.zone, to: '*', latencyMs: p.latency, jitterMs: p.jitter })
        : latencyNemesis({ from: p.between[0], to: p.between[1], latencyMs: p.latency, jitterMs: p.jitter });
    case 'partition':
      return partitionNemesis({ between: p.between, mode: p.mode });
    case 'isolate':
      return isolateNemesis({ zone: p.zone, mode: p.mode });
    case 'kill-zone':
      return killZoneNemesis({ zone: p.zone });
    case 'kill-drc':
      return killDrcNemesis({ from: p.from, to: p.to });
    case 'kill-gzs':
      return killGzsNemesis();
    case 'kill-dal':
      return killDalNemesis({ zone: p.zone });
    case 'clock':
      return clockNemesis({ zone: p.zone, offsetMs: p.offset });
    case 'move':
      return moveNemesis({ shards: p.shards, to: p.to, timeoutMs: p.timeout, maxLagMs: p.maxLag });
    case 'failover':
      return failoverNemesis({
        from: p.from,
        to: p.to,
        whenDownMs: p.whenDown,
        downAfterMs: p.downAfter,
        force: p.force,
      });
    case 'failback':
      return failbackNemesis({ zone: p.zone, timeoutMs: p.timeout, maxLagMs: p.maxLag });
  }
}
