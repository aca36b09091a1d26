/**
 * The gateway's own error answers (DESIGN §3): JSON `{"error":{"code","message"}}` with the codes
 * every part shares (src/shared/error-codes.ts).
 */
export { ErrorCode } from '../shared/error-codes.js';
export { errorBody } from '../util/http-json.js';

/** The message of a 501 for a request body in a transfer coding the gateway does not pass on. */
export function unsupportedCoding(value: string): string {
  return `Transfer-Encoding "${value}" is not supported (only chunked)`;
}
