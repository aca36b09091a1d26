/**
 * The gateway's own error answers (DESIGN §3): JSON `{"error":{"code","message"}}` with the codes
 * every part shares (src/shared/error-codes.ts).
 */
export { ErrorCode } from '../shared/error-codes.js';
export { errorBody } from '../util/http-json.js';
