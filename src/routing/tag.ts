// The routing tag (`X-Ez-Route`, cookie, query): parsing and formatting.
import { MAX_SHARD } from '../topology/index.js';
import { quote, RouteError } from './errors.js';
import { orderIdProblem } from './order-id.js';

/**
 * The routing tag (DESIGN §3): `key=value` pairs separated by `;`, from the `X-Ez-Route` header,
 * the `ez_route` cookie or the `ez_route` query parameter. Keys in precedence order.
 */
export const ROUTE_KEYS = ['shard', 'order', 'merchant', 'rider', 'user', 'geo'] as const;
export type RouteKey = (typeof ROUTE_KEYS)[number];

export interface GeoPoint {
  lat: number;
  lng: number;
}

export interface RouteTag {
  shard?: number;
  /** decimal string (ids exceed 2^53), already validated against the order-id layout */
  order?: string;
  merchant?: string;
  rider?: string;
  user?: string;
  geo?: GeoPoint;
}

export const MAX_TAG_LENGTH = 1024;
export const ROUTE_HEADER = 'x-ez-route';
export const ROUTE_COOKIE = 'ez_route';
export const ROUTE_QUERY = 'ez_route';

const KEY_LIST = ROUTE_KEYS.join(', ');
const ID_RE = /^[A-Za-z0-9_.:-]{1,64}$/;
const DEGREES_RE = /^[+-]?\d{1,3}(?:\.\d{1,15})?$/;
const EXAMPLE = 'e.g. geo=31.2304,121.4737 or order=7290412234567680001';

const isKey = (k: string): k is RouteKey => (ROUTE_KEYS as readonly string[]).includes(k);

function degrees(what: 'latitude' | 'longitude', text: string, limit: number): number {
  if (!DEGREES_RE.test(text))
    throw new RouteError(
      `geo: ${what} ${quote(text)} is not a decimal number of degrees (expected e.g. 31.2304)`,
    );
  const v = Number(text);
  if (v < -limit || v > limit)
    throw new RouteError(`geo: ${what} ${text} out of range (expected -${limit}..${limit})`);
  return v;
}

function parseValue(tag: RouteTag, key: RouteKey, value: string): void {
  switch (key) {
    case 'shard': {
      if (!/^\d{1,4}$/.test(value))
        throw new RouteError(
          `shard: ${quote(value)} is not a shard id (expected an integer 0..${MAX_SHARD})`,
        );
      const n = Number(value);
      if (n > MAX_SHARD)
        throw new RouteError(`shard: ${n} out of range (expected an integer 0..${MAX_SHARD})`);
      tag.shard = n;
      return;
    }
    case 'order': {
      const problem = orderIdProblem(value);
      if (problem) throw new RouteError(`order: ${problem}`);
      tag.order = value;
      return;
    }
    case 'geo': {
      const comma = value.indexOf(',');
      if (comma < 0 || value.indexOf(',', comma + 1) >= 0)
        throw new RouteError(
          `geo: ${quote(value)} is not lat,lng (expected two decimal degrees, e.g. 31.2304,121.4737)`,
        );
      tag.geo = {
        lat: degrees('latitude', value.slice(0, comma).trim(), 90),
        lng: degrees('longitude', value.slice(comma + 1).trim(), 180),
      };
      return;
    }
    default:
      if (!ID_RE.test(value))
        throw new RouteError(`${key}: ${quote(value)} is not a ${key} id (expected 1-64 of [A-Za-z0-9_.:-])`);
      tag[key] = value;
  }
}

/**
 * Parse `key=value;key=value`. Whitespace around keys, values and separators is ignored, one
 * trailing `;` is tolerated; unknown or repeated keys, empty pairs and bad values are RouteErrors
 * (and nothing else is ever thrown: a fuzz test holds it to that).
 */
export function parseRouteTag(text: string): RouteTag {
  if (typeof text !== 'string') throw new RouteError(`routing tag: expected a string, got ${typeof text}`);
  if (text.length > MAX_TAG_LENGTH)
    throw new RouteError(
      `routing tag is ${text.length} characters long (expected at most ${MAX_TAG_LENGTH})`,
    );
  const parts = text.split(';');
  const tag: RouteTag = {};
  let pairs = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i].trim();
    if (part === '') {
      if (pairs > 0 && i === parts.length - 1) break;
      throw new RouteError(
        text.trim() === ''
          ? `empty routing tag (expected key=value pairs separated by ";", ${EXAMPLE})`
          : `empty pair #${i + 1} in ${quote(text)} (expected key=value pairs separated by a single ";")`,
      );
    }
    const eq = part.indexOf('=');
    if (eq < 0) throw new RouteError(`${quote(part)} is not key=value (expected ${EXAMPLE})`);
    const key = part.slice(0, eq).trim();
    if (!isKey(key)) throw new RouteError(`unknown key ${quote(key)} (expected one of ${KEY_LIST})`);
    if (tag[key] !== undefined)
      throw new RouteError(`duplicate key "${key}" (expected each key at most once)`);
    const value = part.slice(eq + 1).trim();
    if (value === '') throw new RouteError(`${key}: empty value (expected ${key}=…)`);
    parseValue(tag, key, value);
    pairs++;
  }
  return tag;
}

/** Degrees as the parser accepts them: plain decimals (String() would give "1e-7"), to 1e-9°. */
const formatDegrees = (v: number): string => v.toFixed(9).replace(/\.?0+$/, '');

/** The canonical text of a tag, keys in precedence order (what clients send, what logs show). */
export function formatRouteTag(tag: RouteTag): string {
  const out: string[] = [];
  for (const key of ROUTE_KEYS) {
    const v = tag[key];
    if (v === undefined) continue;
    out.push(
      key === 'geo' ? `geo=${formatDegrees(tag.geo!.lat)},${formatDegrees(tag.geo!.lng)}` : `${key}=${v}`,
    );
  }
  return out.join(';');
}

export type TagSource = 'header' | 'cookie' | 'query';

export interface TagSources {
  /** value of the X-Ez-Route header (node gives an array when repeated) */
  header?: string | readonly string[] | null;
  /** the whole Cookie header */
  cookie?: string | readonly string[] | null;
  /** the query string (with or without "?") or parsed parameters */
  query?: string | URLSearchParams | null;
}

function one(value: string | readonly string[] | null | undefined, what: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (value.length > 1) throw new RouteError(`${value.length} ${what} values (expected one)`);
  return value[0];
}

function cookieValue(header: string): string | undefined {
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim() !== ROUTE_COOKIE) continue;
    let raw = pair.slice(eq + 1).trim();
    if (raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) raw = raw.slice(1, -1);
    if (raw.length > MAX_TAG_LENGTH * 3)
      throw new RouteError(
        `cookie ez_route is ${raw.length} characters long (expected at most ${MAX_TAG_LENGTH * 3})`,
      );
    try {
      return decodeURIComponent(raw);
    } catch {
      throw new RouteError(`cookie ez_route: bad URL encoding in ${quote(raw)} (expected a URL-encoded tag)`);
    }
  }
  return undefined;
}

/**
 * The tag of a request: the X-Ez-Route header if present, else the ez_route cookie, else the
 * ez_route query parameter (URL-encoded). The first form present is the one used, even when it is
 * malformed: a bad header is an error, not a reason to look at the cookie.
 */
export function routeTagFrom(sources: TagSources): { tag: RouteTag; source: TagSource; text: string } {
  const header = one(sources.header, 'X-Ez-Route header');
  if (header !== undefined) return { tag: parseRouteTag(header), source: 'header', text: header };

  const cookieHeader = one(sources.cookie, 'Cookie header');
  const cookie = cookieHeader === undefined ? undefined : cookieValue(cookieHeader);
  if (cookie !== undefined) {
    try {
      return { tag: parseRouteTag(cookie), source: 'cookie', text: cookie };
    } catch (err) {
      throw new RouteError(`cookie ez_route: ${(err as Error).message}`);
    }
  }

  if (sources.query !== undefined && sources.query !== null) {
    const params =
      typeof sources.query === 'string'
        ? new URLSearchParams(sources.query.replace(/^\?/, ''))
        : sources.query;
    const values = params.getAll(ROUTE_QUERY);
    if (values.length > 1) throw new RouteError(`${values.length} ez_route query parameters (expected one)`);
    if (values.length === 1) {
      try {
        return { tag: parseRouteTag(values[0]), source: 'query', text: values[0] };
      } catch (err) {
        throw new RouteError(`query ez_route: ${(err as Error).message}`);
      }
    }
  }
  throw new RouteError(
    'no routing tag (expected an X-Ez-Route header, an ez_route cookie or an ez_route query parameter)',
  );
}
