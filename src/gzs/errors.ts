import { EzError } from '../util/errors.js';

/**
 * An answer of the GZS API other than 2xx: the HTTP status, a stable code and a one-line message
 * (JSON `{"error":{"code","message",...extra}}`, DESIGN §3's error shape).
 */
export class GzsError extends EzError {
  readonly status: number;
  readonly extra: Record<string, unknown>;
  constructor(status: number, code: string, message: string, extra: Record<string, unknown> = {}) {
    // as a CLI error: the user's input was wrong (400/404/413) → 2; anything else → 1
    super(code, message, status === 400 || status === 404 || status === 413 ? 2 : 1);
    this.name = 'GzsError';
    this.status = status;
    this.extra = extra;
  }

  body(): { error: Record<string, unknown> } {
    return { error: { code: this.code, message: this.message, ...this.extra } };
  }
}

export const badRequest = (message: string): GzsError => new GzsError(400, 'EZ_BAD_REQUEST', message);
export const notFound = (code: string, message: string): GzsError => new GzsError(404, code, message);

/** 409: the table moved on since the epoch the caller based its change on (compare-and-set). */
export const staleEpoch = (ifEpoch: number, epoch: number): GzsError =>
  new GzsError(
    409,
    'EZ_STALE_EPOCH',
    `ifEpoch ${ifEpoch} is stale: the table is at epoch ${epoch} (re-read it and decide again)`,
    { epoch },
  );

/** 412: `If-Match` names no ETag of the current table (someone changed it since the caller read it). */
export const preconditionFailed = (given: string, etag: string, epoch: number): GzsError =>
  new GzsError(
    412,
    'EZ_PRECONDITION_FAILED',
    `If-Match ${given} does not match the table's ETag ${etag} (epoch ${epoch}): re-read it and decide again`,
    { epoch, etag },
  );

/** 503: the store cannot take a durable write now (ZooKeeper unreachable); reads still work. */
export const storeUnavailable = (why: string): GzsError =>
  new GzsError(503, 'EZ_STORE_UNAVAILABLE', `the table store cannot accept changes now: ${why}`);
