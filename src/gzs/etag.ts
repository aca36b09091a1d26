/** `If-Match` on GZS's change routes (RFC 9110 §13.1.1): the ETag of the table a change was based on. */
import { badRequest } from './errors.js';

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
