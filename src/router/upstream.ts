import { Pool } from 'undici';
import { UsageError } from '../util/errors.js';

export interface PoolOptions {
  /** max keep-alive connections per upstream instance (undici `connections`) */
  connections: number;
  /** TCP connect timeout: past it the instance counts as unreachable */
  connectTimeoutMs: number;
  /** time to the response headers: past it the call fails with EZ_ZONE_UNAVAILABLE */
  headersTimeoutMs: number;
  /** max idle time between body chunks, either direction */
  bodyTimeoutMs: number;
}

export const DEFAULT_POOL: PoolOptions = {
  connections: 256,
  connectTimeoutMs: 1000,
  headersTimeoutMs: 30_000,
  bodyTimeoutMs: 30_000,
};

/** One upstream instance (`http://127.0.0.1:27204`) and its keep-alive connection pool. */
export class Upstream {
  readonly origin: string;
  readonly pool: Pool;

  constructor(origin: string, opts: PoolOptions) {
    this.origin = origin;
    this.pool = new Pool(origin, {
      connections: opts.connections,
      // one request at a time per connection: pipelining would let one slow answer hold others
      pipelining: 1,
      connectTimeout: opts.connectTimeoutMs,
      headersTimeout: opts.headersTimeoutMs,
      bodyTimeout: opts.bodyTimeoutMs,
      keepAliveTimeout: 4000,
    });
  }
}

/** The instances of one target (an eZone's services, or a peer SOA Proxy), picked round robin. */
export class UpstreamGroup {
  readonly name: string;
  readonly instances: readonly Upstream[];
  private next = 0;

  constructor(name: string, instances: Upstream[]) {
    if (instances.length === 0) throw new UsageError(`${name}: no upstream instances`);
    this.name = name;
    this.instances = instances;
  }

  pick(): Upstream {
    const u = this.instances[this.next];
    this.next = this.next + 1 === this.instances.length ? 0 : this.next + 1;
    return u;
  }
}

/** `http://host:port` with no path: what a Pool takes; a UsageError naming `what` otherwise. */
export function parseOrigin(text: string, what: string): string {
  let url: URL;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(text) ? text : `http://${text}`);
  } catch {
    throw new UsageError(`${what}: "${text}" is not a URL (expected http://HOST:PORT or HOST:PORT)`);
  }
  if (url.protocol !== 'http:' || !url.port || (url.pathname !== '/' && url.pathname !== ''))
    throw new UsageError(`${what}: "${text}" must be http://HOST:PORT with no path`);
  return url.origin;
}
