/**
 * The error codes that cross a boundary (DESIGN §3 for HTTP answers, §4 for the DAL's MySQL
 * errors): one list, so APIRouter, the SOA Proxy, the services, the DAL and the harness's
 * client agree on the spelling.
 */
export const ErrorCode = {
  badRoute: 'EZ_BAD_ROUTE',
  badRequest: 'EZ_BAD_REQUEST',
  locked: 'EZ_LOCKED',
  zoneUnavailable: 'EZ_ZONE_UNAVAILABLE',
  wrongZone: 'EZ_WRONG_ZONE',
  notFound: 'EZ_NOT_FOUND',
  /** the write conflicts with what exists (a phone already registered) */
  conflict: 'EZ_CONFLICT',
  shuttingDown: 'EZ_SHUTTING_DOWN',
  /** a dependency of the answering part (its database) is down: retry */
  unavailable: 'EZ_UNAVAILABLE',
  internal: 'EZ_INTERNAL',
  noShardKey: 'EZ_NO_SHARD_KEY',
  globalUnavailable: 'EZ_GLOBAL_UNAVAILABLE',
  unknownTable: 'EZ_UNKNOWN_TABLE',
  ddlRefused: 'EZ_DDL_REFUSED',
  notReady: 'EZ_NOT_READY',
  /** the DAL cannot classify a statement, or never lets it through (deny unknown) */
  denied: 'EZ_DENIED',
  /** one transaction writing a second shard (or Global-Zone and local rows) */
  crossShard: 'EZ_CROSS_SHARD',
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];
