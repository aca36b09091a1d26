/**
 * GZS's API errors: the shared HttpError (src/util/http-json.ts) — an HTTP status, a stable code
 * and one line (DESIGN §3's error shape `{"error":{"code","message",...extra}}`).
 */
import { HttpError } from '../util/http-json.js';

export { HttpError as GzsError };

type GzsError = HttpError;
const GzsError = HttpError;

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
