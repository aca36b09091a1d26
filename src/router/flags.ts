/** The flags of a gateway part (APIRouter, SOA Proxy): lock hold, access log, upstream pools. */
import { flag } from '../runtime/flags.js';
import { type AccessLogOptions, parseAccessLog } from './access-log.js';
import { DEFAULT_POOL, type PoolOptions } from './upstream.js';

export const gatewayFlags = {
  host: flag.string('address to listen on', { fallback: '127.0.0.1' }),
  'lock-wait': flag.duration(
    'how long a request for a locked shard is held for the lock to clear (DESIGN §3)',
    {
      min: 0,
      max: 60_000,
    },
  ),
  'access-log': flag.oneOf('which requests the access log records', ['all', 'errors', 'off'] as const),
  'access-log-sample': flag.string('fraction of logged requests kept (0..1, e.g. 0.01)'),
  connections: flag.int('most connections per upstream instance', 1, 65535),
  'connect-timeout': flag.duration('upstream connect timeout', { min: 1, max: 600_000 }),
  'upstream-timeout': flag.duration('upstream answer timeout (headers, and between body chunks)', {
    min: 1,
    max: 3_600_000,
  }),
};

type GatewayFlagValues = {
  'access-log'?: 'all' | 'errors' | 'off';
  'access-log-sample'?: string;
  connections?: number;
  'connect-timeout'?: number;
  'upstream-timeout'?: number;
};

export function gatewayOptionsFrom(f: GatewayFlagValues): { accessLog: AccessLogOptions; pool: PoolOptions } {
  return {
    accessLog: parseAccessLog(f['access-log'], f['access-log-sample']),
    pool: {
      connections: f.connections ?? DEFAULT_POOL.connections,
      connectTimeoutMs: f['connect-timeout'] ?? DEFAULT_POOL.connectTimeoutMs,
      headersTimeoutMs: f['upstream-timeout'] ?? DEFAULT_POOL.headersTimeoutMs,
      bodyTimeoutMs: f['upstream-timeout'] ?? DEFAULT_POOL.bodyTimeoutMs,
    },
  };
}
