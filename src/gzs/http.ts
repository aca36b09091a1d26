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
