// Routing errors (EZ_BAD_ROUTE) and how a value is quoted in them.
import { EzError } from '../util/errors.js';

/**
 * A routing tag or key that cannot be routed (DESIGN §3): malformed, out of range, or resolving to
 * no shard. Code `EZ_BAD_ROUTE`, exit code 2 (bad input); APIRouter answers 400 with it.
 */
export class RouteError extends EzError {
  constructor(message: string) {
    super('EZ_BAD_ROUTE', message, 2);
    this.name = 'RouteError';
  }
}

/** A value as it appears in an error message: quoted, invisible characters escaped, cut (util/validation.ts). */
export { quote } from '../util/validation.js';
