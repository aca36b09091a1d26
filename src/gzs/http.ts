/** Small node:http helpers for GZS (no framework: the API is a dozen routes). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest, GzsError } from './errors.js';

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string | number> = {},
): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: GzsError, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, err.status, err.body(), headers);
}

/**
 * Read a JSON body of at most `limit` bytes. An empty body is `{}` (routes whose fields are all
 * optional accept none). 413 when too large (from content-length before reading, else while
 * reading), 400 for text that is not JSON. The content type is not checked: `curl -d` sends
 * form-urlencoded by default, and the body is JSON either way.
 */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`body: not JSON (${(err as Error).message})`);
  }
}

const tooLarge = (limit: number): GzsError =>
  new GzsError(413, 'EZ_TOO_LARGE', `body larger than ${limit} bytes`);

/** `If-Match` as sent: `*` (any current table) or the entity tags listed (RFC 9110 §13.1.1). */
export type IfMatch = { any: true } | { any: false; tags: { weak: boolean; opaque: string }[] };

const ENTITY_TAG = /\s*(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)/y;

/** Parse an If-Match header; undefined when absent, 400 when it is not `*` or a list of entity tags. */
export function parseIfMatch(header: string | string[] | undefined): IfMatch | undefined {
  if (header === undefined) return undefined;
  const text = (Array.isArray(header) ? header.join(', ') : header).trim();
  if (text === '*') return { any: true };
  const tags: { weak: boolean; opaque: string }[] = [];
  ENTITY_TAG.lastIndex = 0;
  while (ENTITY_TAG.lastIndex < text.length) {
    const at = ENTITY_TAG.lastIndex;
    const m = ENTITY_TAG.exec(text);
    if (!m || m.index !== at) {
      tags.length = 0;
      break;
    }
    tags.push({ weak: m[1] !== undefined, opaque: m[2] });
  }
  if (tags.length === 0) {
    throw badRequest(
      `If-Match: expected "*" or entity tags (GET /table's ETag, "<generation>.<epoch>" with its double quotes, comma-separated), got ${JSON.stringify(text)}`,
    );
  }
  return { any: false, tags };
}

/** Strong comparison (RFC 9110 §8.8.3.2): a weak tag never matches, as If-Match requires. */
export function ifMatchHolds(ifMatch: IfMatch, etagOpaque: string): boolean {
  return ifMatch.any || ifMatch.tags.some((t) => !t.weak && t.opaque === etagOpaque);
}
