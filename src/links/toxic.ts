// Toxic JSON as Toxiproxy takes it: parsing, defaults, updates.
import { ApiError, badBody, checkName, missingField } from './errors.js';

/**
 * Toxic types and their attributes: Toxiproxy 2.12's set plus `stall` (a partition that holds bytes
 * and resumes the same connections when removed). Attribute names, units and defaults are
 * Toxiproxy's; attributes beyond Toxiproxy's are extensions that a real Toxiproxy ignores.
 */
export const TOXIC_TYPES = [
  'latency',
  'bandwidth',
  'slow_close',
  'timeout',
  'reset_peer',
  'slicer',
  'limit_data',
  'noop',
  'stall',
] as const;
export type ToxicType = (typeof TOXIC_TYPES)[number];

/** `both` is an extension: one toxic acting on each direction (symmetric latency in one call). */
export type Stream = 'upstream' | 'downstream' | 'both';
export type Direction = 'upstream' | 'downstream';

export type Attributes = Record<string, number | boolean>;

export interface ToxicSpec {
  name: string;
  type: ToxicType;
  stream: Stream;
  toxicity: number;
  attributes: Attributes;
}

interface AttrDef {
  kind: 'int' | 'bool';
  min?: number;
  max?: number;
  /** what the attribute means, for error messages */
  unit?: string;
}

const DAY_MS = 86_400_000;
const ms = (max = DAY_MS): AttrDef => ({ kind: 'int', min: 0, max, unit: 'ms' });

/** Per type: attribute → definition. Defaults are 0 / false, as Go's zero values in Toxiproxy. */
const ATTRS: Record<ToxicType, Record<string, AttrDef>> = {
  latency: { latency: ms(), jitter: ms(), handshake: { kind: 'bool' } },
  bandwidth: { rate: { kind: 'int', min: 0, max: 10_000_000, unit: 'KB/s (0 = unlimited)' } },
  slow_close: { delay: ms() },
  timeout: { timeout: ms() },
  reset_peer: { timeout: ms() },
  slicer: {
    average_size: { kind: 'int', min: 1, max: 64 * 1024 * 1024, unit: 'bytes' },
    size_variation: { kind: 'int', min: 0, max: 64 * 1024 * 1024, unit: 'bytes' },
    delay: { kind: 'int', min: 0, max: 60_000_000, unit: 'µs' },
  },
  limit_data: { bytes: { kind: 'int', min: 0, max: Number.MAX_SAFE_INTEGER, unit: 'bytes' } },
  noop: {},
  stall: {},
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function defaults(type: ToxicType): Attributes {
  const out: Attributes = {};
  for (const [key, def] of Object.entries(ATTRS[type])) out[key] = def.kind === 'bool' ? false : 0;
  if (type === 'slicer') out.average_size = 0; // must be set: checked below
  return out;
}

/** Merge `input` into `base` (a copy), checking every key and value; then cross-field rules. */
function mergeAttributes(type: ToxicType, base: Attributes, input: unknown): Attributes {
  const out = { ...base };
  if (input === undefined || input === null) return checkCross(type, out);
  if (!isObject(input)) throw badBody(`"attributes" must be an object, got ${JSON.stringify(input)}`);
  const defs = ATTRS[type];
  for (const [key, value] of Object.entries(input)) {
    const def = defs[key];
    if (!def) {
      const known = Object.keys(defs);
      throw new ApiError(
        400,
        `bad attribute "${key}" for a ${type} toxic: expected ${known.length ? known.map((k) => `"${k}"`).join(', ') : 'no attributes'}`,
      );
    }
    if (value === null) continue;
    if (def.kind === 'bool') {
      if (typeof value !== 'boolean') throw new ApiError(400, `bad attribute ${key}: expected true or false`);
      out[key] = value;
      continue;
    }
    const range = `an integer ${def.min}..${def.max}${def.unit ? ` (${def.unit})` : ''}`;
    if (typeof value !== 'number' || !Number.isInteger(value))
      throw new ApiError(400, `bad attribute ${key}: expected ${range}, got ${JSON.stringify(value)}`);
    if (value < (def.min ?? 0) || value > (def.max ?? Number.MAX_SAFE_INTEGER))
      throw new ApiError(400, `bad attribute ${key}: expected ${range}, got ${value}`);
    out[key] = value;
  }
  return checkCross(type, out);
}

function checkCross(type: ToxicType, a: Attributes): Attributes {
  if (type === 'slicer') {
    if ((a.average_size as number) < 1)
      throw new ApiError(400, 'bad attribute average_size: a slicer needs average_size >= 1 (bytes)');
    if ((a.size_variation as number) >= (a.average_size as number))
      throw new ApiError(400, 'bad attribute size_variation: expected less than average_size');
  }
  return a;
}

function parseToxicity(value: unknown, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1)
    throw badBody(
      `"toxicity" must be a number 0..1 (share of connections affected), got ${JSON.stringify(value)}`,
    );
  return value;
}

/** A new toxic from a `POST /proxies/{proxy}/toxics` body (already JSON-parsed). */
export function parseToxic(body: unknown): ToxicSpec {
  if (!isObject(body)) throw badBody('expected a JSON object {name, type, stream, toxicity, attributes}');
  const { type: rawType, stream: rawStream, name: rawName } = body;
  if (rawType === undefined || rawType === null || rawType === '') throw missingField('type');
  if (typeof rawType !== 'string' || !(TOXIC_TYPES as readonly string[]).includes(rawType))
    throw new ApiError(
      400,
      `invalid toxic type ${JSON.stringify(rawType)}: expected one of ${TOXIC_TYPES.join(', ')}`,
    );
  const type = rawType as ToxicType;
  let stream: Stream = 'downstream';
  if (rawStream !== undefined && rawStream !== null && rawStream !== '') {
    const s = typeof rawStream === 'string' ? rawStream.toLowerCase() : rawStream;
    if (s !== 'upstream' && s !== 'downstream' && s !== 'both')
      throw new ApiError(
        400,
        `stream was invalid, can be either upstream or downstream (or both): got ${JSON.stringify(rawStream)}`,
      );
    stream = s;
  }
  const name =
    rawName === undefined || rawName === null || rawName === ''
      ? `${type}_${stream}`
      : checkName(rawName, 'toxic name');
  const toxicity = parseToxicity(body.toxicity, 1);
  const attributes = mergeAttributes(type, defaults(type), body.attributes);
  return { name, type, stream, toxicity, attributes };
}

/** An updated toxic from a `POST|PATCH /proxies/{proxy}/toxics/{toxic}` body: attributes merge, toxicity replaces. */
export function parseToxicUpdate(current: ToxicSpec, body: unknown): ToxicSpec {
  if (!isObject(body)) throw badBody('expected a JSON object {attributes, toxicity}');
  return {
    ...current,
    toxicity: parseToxicity(body.toxicity, current.toxicity),
    attributes: mergeAttributes(current.type, current.attributes, body.attributes),
  };
}

/** The JSON Toxiproxy answers for a toxic. */
export const toxicJson = (t: ToxicSpec) => ({
  attributes: t.attributes,
  name: t.name,
  type: t.type,
  stream: t.stream,
  toxicity: t.toxicity,
});

export const appliesTo = (t: ToxicSpec, dir: Direction): boolean => t.stream === 'both' || t.stream === dir;
