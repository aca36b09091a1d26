/**
 * JSON over node:http, the one helper every part's small API uses (GZS, the order service, the
 * DAL's and DRC's ops, the switch): answers in DESIGN §3's error shape
 * `{"error":{"code","message",...}}`, and request bodies read with a size limit. No framework:
 * each API is a dozen routes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EzError } from './errors.js';

/** An answer other than 2xx: HTTP status, stable code, one-line message, optional extra fields. */
export class HttpError extends EzError {
  readonly status: number;
  readonly extra: Record<string, unknown>;
  /** header lines to send with the answer (`retry-after`, `allow`, …) */
  readonly headers: Record<string, string>;
  constructor(
    status: number,
    code: string,
    message: string,
    extra: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ) {
    // as a CLI error: the user's input was wrong (400/404/412/413) → 2; anything else → 1
    super(code, message, status === 400 || status === 404 || status === 412 || status === 413 ? 2 : 1);
    this.name = 'HttpError';
    this.status = status;
    this.extra = extra;
    this.headers = headers;
  }

  body(): { error: Record<string, unknown> } {
    return { error: { code: this.code, message: this.message, ...this.extra } };
  }
}

export type Headers = Record<string, string | number> | string[];

/** Send a JSON document (already serialized text is sent as is). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Headers = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const common = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  };
  if (Array.isArray(headers)) {
    const flat = [...headers];
    for (const [k, v] of Object.entries(common)) flat.push(k, String(v));
    res.writeHead(status, flat);
  } else {
    res.writeHead(status, { ...common, ...headers });
  }
  res.end(text);
}

/** `{"error":{"code","message"}}` as text. */
export const errorBody = (code: string, message: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ error: { code, message, ...extra } });

/** Send an HttpError (or any status/code/message); when the answer already started, cut the connection. */
export function sendError(
  res: ServerResponse,
  err: HttpError | { status: number; code: string; message: string },
  headers: Headers = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const e = err instanceof HttpError ? err : new HttpError(err.status, err.code, err.message);
  const all: Headers = Array.isArray(headers)
    ? [...headers, ...Object.entries(e.headers).flat()]
    : { ...e.headers, ...headers };
  sendJson(res, e.status, e.body(), all);
}

export const badRequest = (message: string, code = 'EZ_BAD_REQUEST'): HttpError =>
  new HttpError(400, code, message);
const tooLarge = (limit: number): HttpError =>
  new HttpError(413, 'EZ_TOO_LARGE', `body larger than ${limit} bytes`, {}, { connection: 'close' });

/**
 * Read a JSON body of at most `limit` bytes. An empty body is `{}` (routes whose fields are all
 * optional accept none). 413 when too large (from content-length before reading, else while
 * reading), 400 for text that is not JSON. The content type is not checked: `curl -d` sends
 * form-urlencoded by default, and the body is JSON either way.
 */
export async function readJson(
  req: IncomingMessage,
  limit: number,
  opts: { allowEmpty?: boolean } = {},
): Promise<unknown> {
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
  if (text === '') {
    if (opts.allowEmpty === false) throw badRequest('body: empty (expected JSON)');
    return {};
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`body: not JSON (${(err as Error).message})`);
  }
}
