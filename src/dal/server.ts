/**
 * One DAL: a TCP listener speaking the MySQL protocol to clients, a session per connection, and
 * the context they share (routing source, classifier, backend pool, fence). The protocol is
 * spoken here rather than through mysql2's server API because the DAL relays the backend's answers
 * byte for byte (result sets, binary rows, cursors are never decoded) — the hot path stays a
 * socket-to-socket copy — and because mysql2's server hides the raw packets a proxy must judge.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { RoutingSource } from '../sdk/index.js';
import { hasDevPassword, mysqlAccount, passwordEnvVar } from '../shared/mysql-accounts.js';
import { refuseDefaultSecret } from '../shared/secrets.js';
import type { Topology } from '../topology/index.js';
import { errorMessage } from '../util/errors.js';
import { Backend, formatAddress, type MariaDbAddress, type ServerGreeting } from './backend.js';
import { DalContext } from './context.js';
import { DalMetrics } from './metrics.js';
import { passwordHash } from './protocol/auth.js';
import { CLIENT } from './protocol/packets.js';
import { dalSchema } from './schema.js';
import { DalSession } from './session.js';
import { mariadbVersionId, StatementClassifier } from './sql/index.js';

export interface DalAddress {
  host: string;
  port: number;
}

/**
 * What the DAL's process decides before it listens: clients log in to it with the app account
 * (ezapp), so that account's development password is accepted on a loopback address only, else
 * EzError EZ_DEFAULT_SECRET (anyone who can reach the DAL could read and write the database).
 */
export function checkDalSecrets(o: { host: string; env?: NodeJS.ProcessEnv }): void {
  const env = o.env ?? process.env;
  const user = mysqlAccount('app', env).user;
  refuseDefaultSecret({
    part: 'DAL',
    bindHost: o.host,
    what: `the development password of MySQL account ${user}`,
    env: passwordEnvVar(user),
    isDefault: hasDevPassword('app', env),
  });
}

export interface DalOptions {
  topology: Topology;
  zone: string;
  /** where clients connect */
  listen: DalAddress;
  /** this eZone's MariaDB: its unix socket (same host) or TCP */
  backend: MariaDbAddress;
  /** the Global-Zone master's MariaDB as this eZone reaches it (the same as `backend` in the master) */
  master: MariaDbAddress;
  /** the account clients log in with, and the DAL with its backends */
  account: { user: string; password: string };
  log: Logger;
  registry: Registry;
  maxPacketBytes?: number;
  rywTimeoutMs?: number;
  poolSize?: number;
  /** how long to keep trying this eZone's MariaDB at start */
  backendWaitMs?: number;
}

/** What /healthz says about a DAL. */
export interface DalHealth {
  ok: boolean;
  zone: string;
  /** may writes be served: GZS's table heard in this process's life, or its cache file */
  ready: boolean;
  routingFrom: 'gzs' | 'cache' | 'static' | 'none';
  epoch: number;
  /** newest epoch whose fences are complete (what the DAL lets the SDK acknowledge) */
  acknowledgeable: number;
  /** the epoch last acknowledged to GZS (SDK client; null for a static table) */
  acknowledged: number | null;
  fenceWaiting: number;
  sessions: number;
  openTransactions: number;
  listen: string;
  backend: { address: string; version: string };
  master: { zone: string; address: string };
  planCache: { hits: number; misses: number; parses: number; size: number; hitRate: number | null };
}

/** Ask this eZone's MariaDB for its greeting (version, capabilities, collation), retrying until `waitMs`. */
async function probeBackend(o: DalOptions, database: string): Promise<ServerGreeting> {
  const deadline = Date.now() + (o.backendWaitMs ?? 30_000);
  for (let attempt = 1; ; attempt++) {
    try {
      const b = await Backend.connect({
        ...o.backend,
        ...o.account,
        database,
        capabilities:
          CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION | CLIENT.PLUGIN_AUTH | CLIENT.TRANSACTIONS,
        charset: 45,
        connectTimeoutMs: 3000,
      });
      b.destroy();
      return b.greeting;
    } catch (err) {
      if (Date.now() >= deadline)
        throw new Error(
          `cannot log in to this eZone's MariaDB at ${formatAddress(o.backend)} as ${o.account.user}: ${errorMessage(err)}`,
        );
      if (attempt === 1) o.log.warn({ err: errorMessage(err) }, 'backend not reachable yet; retrying');
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

export class Dal {
  readonly ctx: DalContext;
  private readonly server: Server;
  private nextId = 1;
  private routingFrom: DalHealth['routingFrom'] = 'none';
  private acknowledgedOf: (() => number) | null = null;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly o: DalOptions,
    greeting: ServerGreeting,
  ) {
    const masterZone = o.topology.globalMaster;
    const classifier = new StatementClassifier(dalSchema(o.topology), {
      serverVersion: mariadbVersionId(greeting.version),
    });
    const view = {
      sessions: () => this.ctx.sessions.size,
      openTransactions: () => this.ctx.openTransactions(),
      epoch: () => this.ctx.epoch,
      acknowledged: () => this.ctx.acknowledgeable,
      cache: () => classifier.stats,
    };
    const metrics = new DalMetrics(o.registry, view);
    this.ctx = new DalContext({
      zone: o.zone,
      masterZone,
      masterServerId: o.topology.zones.find((z) => z.id === masterZone)!.serverId,
      database: o.topology.database,
      local: o.backend,
      master: o.master,
      account: { ...o.account, hash: passwordHash(o.account.password) },
      classifier,
      metrics,
      log: o.log,
      server: {
        // the greeting says the backend's version: clients (and the classifier) read it
        version: greeting.version.replace(/-log$/, ''),
        capabilities: greeting.capabilities,
        charset: greeting.charset,
      },
      maxPacketBytes: o.maxPacketBytes ?? 64 << 20,
      rywTimeoutMs: o.rywTimeoutMs ?? 2000,
      poolSize: o.poolSize ?? 64,
    });
    this.server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server.on('error', (err) => o.log.error({ err: err.message }, 'DAL listener failed'));
  }

  /** Probe the backend, then listen; writes wait for `attach()` (the routing source). */
  static async start(o: DalOptions): Promise<Dal> {
    const greeting = await probeBackend(o, o.topology.database);
    const dal = new Dal(o, greeting);
    await new Promise<void>((resolve, reject) => {
      dal.server.once('error', reject);
      dal.server.listen(o.listen.port, o.listen.host, () => {
        dal.server.off('error', reject);
        resolve();
      });
    });
    o.log.info({ listen: dal.address, backend: greeting.version }, 'DAL listening');
    return dal;
  }

  get address(): string {
    const a = this.server.address();
    return a && typeof a === 'object'
      ? `${a.address}:${a.port}`
      : `${this.o.listen.host}:${this.o.listen.port}`;
  }

  get port(): number {
    const a = this.server.address();
    return a && typeof a === 'object' ? a.port : this.o.listen.port;
  }

  /** The SDK's ack gate (RoutingClient's `ackableEpoch` option). */
  ackableEpoch = (held: number): number => this.ctx.ackableEpoch(held);

  /**
   * The routing source arrived: writes may be judged from now on. `from` says where its table came
   * from; `acknowledged` reads the epoch last sent to GZS (for /healthz).
   */
  attach(
    source: RoutingSource,
    o: { from: 'gzs' | 'cache' | 'static'; acknowledge?: () => void; acknowledged?: () => number },
  ): void {
    this.acknowledgedOf = o.acknowledged ?? null;
    this.ctx.onAckable = () => o.acknowledge?.();
    this.ctx.attach(source);
    this.heard(o.from);
  }

  /** Where the table came from (cache → gzs once GZS has been heard). */
  heard(from: 'gzs' | 'cache' | 'static'): void {
    if (this.routingFrom === 'gzs' || this.routingFrom === 'static') return;
    this.routingFrom = from;
    this.ctx.markHeard(from);
    this.o.log.info(
      { from, epoch: this.ctx.epoch },
      from === 'cache' ? 'serving writes from the SDK cache file (GZS unreachable)' : 'serving writes',
    );
  }

  private accept(socket: Socket): void {
    const id = this.nextId++;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    // a client's socket error must never take the process down (it closes that session only)
    socket.on('error', () => undefined);
    const s = new DalSession(this.ctx, socket, id);
    this.ctx.sessions.add(s);
    void s.run();
  }

  health(): DalHealth {
    const stats = this.ctx.classifier.stats;
    const lookups = stats.hits + stats.misses;
    const ready = this.ctx.ready();
    return {
      ok: ready,
      zone: this.o.zone,
      ready,
      routingFrom: this.routingFrom,
      epoch: this.ctx.epoch,
      acknowledgeable: this.ctx.acknowledgeable,
      acknowledged: this.acknowledgedOf ? this.acknowledgedOf() : null,
      fenceWaiting: this.ctx.fenceWaitingCount,
      sessions: this.ctx.sessions.size,
      openTransactions: this.ctx.openTransactions(),
      listen: this.address,
      backend: { address: formatAddress(this.o.backend), version: this.ctx.server.version },
      master: { zone: this.ctx.masterZone, address: formatAddress(this.o.master) },
      planCache: {
        hits: stats.hits,
        misses: stats.misses,
        parses: stats.parses,
        size: stats.size,
        hitRate: lookups > 0 ? stats.hits / lookups : null,
      },
    };
  }

  /**
   * Stop: no new connections; idle sessions close at once, busy ones after their command (their
   * open transactions roll back with their backend connection), all of them within `graceMs`.
   */
  async close(graceMs = 5000): Promise<void> {
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const s of this.ctx.sessions) s.shutdown();
    const deadline = Date.now() + graceMs;
    while (this.ctx.sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const socket of this.sockets) socket.destroy();
    await closed;
    await this.ctx.close();
  }
}
