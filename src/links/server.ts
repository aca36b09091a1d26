// The built-in link server: Toxiproxy's HTTP API over a collection of TCP proxies, plus ops endpoints.
import { randomInt } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { UsageError } from '../util/errors.js';
import { readInputFile } from '../util/input-file.js';
import { createLogger, type Logger } from '../util/log.js';
import { createRegistry, handleOps } from '../util/ops.js';
import { createApiHandler } from './api.js';
import { ProxyCollection } from './collection.js';
import { joinHostPort } from './errors.js';

export interface LinkServerOptions {
  /** API address; default 127.0.0.1 */
  host?: string;
  /** API port; default 8474 (Toxiproxy's); 0 = any free port */
  port?: number;
  /** seed of every random draw (jitter, toxicity, slicing); default: a random one, logged */
  seed?: number;
  log?: Logger;
  registry?: Registry;
}

/**
 * The built-in link server: Toxiproxy's HTTP API over a collection of TCP proxies, plus `/healthz`
 * and Prometheus `/metrics` on the same port (Toxiproxy 2.12 serves /metrics on its API port too).
 */
export class LinkServer {
  readonly seed: number;
  readonly log: Logger;
  readonly registry: Registry;
  readonly proxies: ProxyCollection;
  private readonly http: Server;
  private address: { host: string; port: number } | null = null;

  constructor(private readonly opts: LinkServerOptions = {}) {
    this.seed = opts.seed ?? randomInt(2 ** 31);
    this.log = opts.log ?? createLogger('links');
    this.registry = opts.registry ?? createRegistry('links');
    this.proxies = new ProxyCollection(this.seed, this.log);
    const proxies = this.proxies;
    const labelNames = ['direction', 'listener', 'proxy', 'upstream'] as const;
    // Byte totals are plain numbers on the hot path; the metrics read them at scrape time.
    const bytes = (name: string, help: string, field: 'received' | 'sent') =>
      new Counter({
        name,
        help,
        labelNames,
        registers: [this.registry],
        collect() {
          this.reset();
          for (const p of proxies.all()) {
            for (const direction of ['upstream', 'downstream'] as const) {
              const labels = { direction, listener: p.listen, proxy: p.name, upstream: p.upstream };
              this.inc(labels, p.counters[direction][field]);
            }
          }
        },
      });
    bytes(
      'toxiproxy_proxy_received_bytes_total',
      'Bytes read from the source of each proxy direction',
      'received',
    );
    bytes(
      'toxiproxy_proxy_sent_bytes_total',
      'Bytes written to the destination of each proxy direction',
      'sent',
    );
    new Gauge({
      name: 'ezlinks_connections',
      help: 'Live connections per proxy',
      labelNames: ['proxy'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const p of proxies.all()) this.set({ proxy: p.name }, p.connectionCount);
      },
    });
    new Gauge({
      name: 'ezlinks_proxies',
      help: 'Proxies by state',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const all = proxies.all();
        this.set({ state: 'enabled' }, all.filter((p) => p.enabled).length);
        this.set({ state: 'disabled' }, all.filter((p) => !p.enabled).length);
      },
    });
    new Gauge({
      name: 'ezlinks_toxics',
      help: 'Toxics per proxy and type',
      labelNames: ['proxy', 'type'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const p of proxies.all()) for (const t of p.toxics) this.inc({ proxy: p.name, type: t.type });
      },
    });
    const metrics = {
      requests: new Counter({
        name: 'ezlinks_api_requests_total',
        help: 'API requests by route and status',
        labelNames: ['route', 'status'] as const,
        registers: [this.registry],
      }),
      duration: new Histogram({
        name: 'ezlinks_api_request_duration_seconds',
        help: 'API request handling time',
        labelNames: ['route'] as const,
        buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5],
        registers: [this.registry],
      }),
    };
    const api = createApiHandler(this.proxies, this.log, metrics);
    this.http = createServer((req, res) => {
      if (handleOps(req, res, this.registry, () => this.health())) return;
      void api(req, res);
    });
    this.http.keepAliveTimeout = 60_000;
  }

  health() {
    const all = this.proxies.all();
    return {
      ok: this.address !== null,
      seed: this.seed,
      proxies: all.length,
      connections: all.reduce((n, p) => n + p.connectionCount, 0),
    };
  }

  /** Start the API; resolves with its address (port 0 resolved). */
  async listen(): Promise<{ host: string; port: number; url: string }> {
    const host = this.opts.host ?? '127.0.0.1';
    const port = this.opts.port ?? 8474;
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const addr = this.http.address();
    const bound = addr && typeof addr === 'object' ? addr.port : port;
    this.address = { host, port: bound };
    this.log.info({ host, port: bound, seed: this.seed }, 'link server listening');
    return { host, port: bound, url: this.url };
  }

  get url(): string {
    if (!this.address) throw new Error('link server is not listening');
    return `http://${joinHostPort(this.address.host, this.address.port)}`;
  }

  /** Close every proxy and connection, then the API. */
  async close(): Promise<void> {
    this.proxies.close();
    this.address = null;
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
    });
  }
}

/**
 * Start a link server in this process (the `links` part, `ezctl links serve`, tests), optionally
 * populated from a JSON file of proxies (Toxiproxy's -config; toxics allowed). Resolves once listening.
 */
export async function startLinkServer(
  opts: LinkServerOptions & { config?: string } = {},
): Promise<LinkServer> {
  const server = new LinkServer(opts);
  await server.listen();
  if (opts.config) {
    try {
      const list: unknown = JSON.parse(
        readInputFile(opts.config, { what: 'proxies file', maxBytes: 16 * 1024 * 1024 }),
      );
      const proxies = await server.proxies.populate(list);
      server.log.info({ config: opts.config, proxies: proxies.length }, 'populated proxies from file');
    } catch (err) {
      await server.close();
      throw new UsageError(`${opts.config}: cannot create the proxies it lists (${(err as Error).message})`);
    }
  }
  return server;
}
