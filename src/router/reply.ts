import type { ServerResponse } from 'node:http';

/**
 * Error answers of APIRouter and the SOA Proxy (DESIGN §3): JSON `{"error":{"code","message"}}`,
 * plus whatever routing headers are already known (`X-Ez-Shard`, `X-Ez-Epoch`, `Retry-After`).
 */
export const ErrorCode = {
  badRoute: 'EZ_BAD_ROUTE',
  badRequest: 'EZ_BAD_REQUEST',
  locked: 'EZ_LOCKED',
  zoneUnavailable: 'EZ_ZONE_UNAVAILABLE',
  wrongZone: 'EZ_WRONG_ZONE',
  notFound: 'EZ_NOT_FOUND',
  shuttingDown: 'EZ_SHUTTING_DOWN',
} as const;

export function errorBody(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

/** The message of a 501 for a request body in a transfer coding the gateway does not pass on. */
export function unsupportedCoding(value: string): string {
  return `Transfer-Encoding "${value}" is not supported (only chunked)`;
}

/** Send a JSON error (no-op when the response already started: the caller destroys it instead). */
export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: string[] = [],
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = errorBody(code, message);
  headers.push(
    'content-type',
    'application/json',
    'content-length',
    String(Buffer.byteLength(body)),
    'cache-control',
    'no-store',
  );
  res.writeHead(status, headers);
  res.end(body);
}

/** Send a JSON document (ops answers, service answers). */
export function sendJson(res: ServerResponse, status: number, value: unknown, headers: string[] = []): void {
  const body = JSON.stringify(value);
  headers.push('content-type', 'application/json', 'content-length', String(Buffer.byteLength(body)));
  res.writeHead(status, headers);
  res.end(body);
}
