/**
 * RoutingClient: the SDK's GZS client, a `RoutingSource` (types.ts) for every part that routes.
 *
 *   const source = await RoutingClient.start({
 *     gzs: ['http://127.0.0.1:27100', 'http://127.0.0.1:27101'], // any GZS instances, tried in turn
 *     topology,                                   // fences come from the topology file
 *     cacheFile: join(dataDir, 'routing-cache.json'),
 *     holder: { id: 'router@host-1:4711', kind: 'router', zone: null }, // acknowledges epochs
 *     registry,                                   // ez_sdk_epoch, ez_sdk_stale_seconds, ez_sdk_connected
 *   });
 *   source.resolver.route('geo=31.23,121.47');       // always the newest table held
 *   await source.close();
 *
 * `start` resolves once a table is held: GZS's, or (when no GZS answers in one round of
 * attempts) the cache file's, also after a process restart. With neither it rejects after
 * `startTimeoutMs` (EZ_NO_TABLE). Then it stays subscribed to GZS's push channel (WebSocket),
 * reconnects with backoff and jitter, fails over between the URLs, never goes back to an older
 * epoch, writes every new table to the cache file, and acknowledges the epoch it holds (at once
 * and every heartbeat, which renews its lease on GZS).
 */
import { hostname } from 'node:os';
import { Counter, Gauge, type Registry } from 'prom-client';
import { request } from 'undici';
import WebSocket from 'ws';
import type { RoutingTable } from '../routing/index.js';
import { FenceIndex, Resolver } from '../routing/index.js';
import {
  type Holder,
  HolderSchema,
  looksLikeTable,
  RoutingTableSchema,
  type ServerMessage,
} from '../shared/gzs-protocol.js';
import type { Topology } from '../topology/index.js';
import { type BackoffOptions, backoffDelay } from '../util/backoff.js';
import { EzError, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { summarizeIssues } from '../util/validation.js';
import { readCacheFile, writeCacheFile } from './cache.js';
import type { RoutingSource } from './types.js';

export interface RoutingClientOptions {
  /** GZS base URLs (`http://host:port`); tried in turn */
  gzs: string | readonly string[];
  /** for the fences (static per topology); or pass `fences` to share one index between clients */
  topology?: Topology;
  fences?: FenceIndex;
  /** local cache of the newest table; without one, no routing survives a restart without GZS */
  cacheFile?: string;
  /** who holds the table (acknowledgements); without one the client only reads */
  holder?: Holder;
  /**
   * The epoch this holder may acknowledge, given the one it holds (default: the one it holds).
   * The DAL acknowledges a new epoch only once its open transactions on the shards that epoch
   * locks or moves away have ended (DESIGN §6 step 1); it calls `acknowledge()` when they have.
   */
  ackableEpoch?: (held: number) => number;
  /** Prometheus registry for ez_sdk_* metrics (one client per registry) */
  registry?: Registry;
  log?: Logger;
  /** with no cache: how long `start` waits for a GZS (default 10 s) */
  startTimeoutMs?: number;
  /** one connection attempt, up to the first table (default 2 s) */
  connectTimeoutMs?: number;
  backoff?: BackoffOptions;
}

export type ClientState = 'connecting' | 'connected' | 'disconnected' | 'closed';

const toBase = (u: string): string => (/^[a-z]+:\/\//i.test(u) ? u : `http://${u}`).replace(/\/+$/, '');
const wsUrl = (base: string): string => `${base.replace(/^http/i, 'ws')}/watch`;

export class RoutingClient implements RoutingSource {
  readonly urls: readonly string[];
  private readonly opts: RoutingClientOptions;
  private readonly fences: FenceIndex;
  private _resolver: Resolver | undefined;
  private _generation = '';
  private _state: ClientState = 'connecting';
  private _source: 'gzs' | 'cache' | 'none' = 'none';
  private connectedUrl: string | undefined;
  /** when a message from GZS last arrived (or, from the cache, when the cache's writer last did) */
  private heardAt = 0;
  private socket: WebSocket | undefined;
  private heartbeatMs = 1000;
  private ackedAt = 0;
  private ackedEpoch = 0;
  private closed = false;
  private readonly listeners = new Set<(t: RoutingTable) => void>();
  private readonly waiters = new Set<{ epoch: number; done: (ok: boolean) => void }>();
  private firstContact: (() => void) | undefined;
  private roundFailed: (() => void) | undefined;
  private lastError = '';
  private sleepTimer: NodeJS.Timeout | undefined;
  private wakeSleep: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private cacheWrite: Promise<void> = Promise.resolve();
  private cachePending = false;
  private refreshing: Promise<boolean> | undefined;
  private warnedOlder = 0;
  private readonly m: { tables: Counter; reconnects: Counter } | undefined;

  private constructor(opts: RoutingClientOptions) {
    const urls = (typeof opts.gzs === 'string' ? opts.gzs.split(',') : [...opts.gzs])
      .map((u) => u.trim())
      .filter(Boolean);
    if (urls.length === 0) throw new EzError('EZ_NO_GZS', 'RoutingClient: no GZS URL given', 2);
    if (!opts.fences && !opts.topology)
      throw new EzError('EZ_NO_FENCES', 'RoutingClient: pass topology (or fences)', 2);
    this.urls = urls.map(toBase);
    if (opts.holder) {
      const h = HolderSchema.safeParse(opts.holder);
      if (!h.success) {
        throw new EzError('EZ_BAD_HOLDER', `RoutingClient holder: ${summarizeIssues(h.error.issues)}`, 2);
      }
    }
    this.opts = opts;
    this.fences = opts.fences ?? FenceIndex.build(opts.topology!.fences);
    if (opts.registry) {
      const self = this;
      const registers = [opts.registry];
      new Gauge({
        name: 'ez_sdk_epoch',
        help: 'Epoch of the routing table this process holds',
        registers,
        collect() {
          this.set(self._resolver?.epoch ?? 0);
        },
      });
      new Gauge({
        name: 'ez_sdk_stale_seconds',
        help: 'Seconds since this process last heard from GZS',
        registers,
        collect() {
          this.set(self.staleMs() / 1000);
        },
      });
      new Gauge({
        name: 'ez_sdk_connected',
        help: '1 while subscribed to a GZS push channel',
        registers,
        collect() {
          this.set(self._state === 'connected' ? 1 : 0);
        },
      });
      new Gauge({
        name: 'ez_sdk_from_cache',
        help: '1 while the table held came from the local cache file (no GZS since start)',
        registers,
        collect() {
          this.set(self._source === 'cache' ? 1 : 0);
        },
      });
      this.m = {
        tables: new Counter({ name: 'ez_sdk_tables_total', help: 'New epochs received', registers }),
        reconnects: new Counter({
          name: 'ez_sdk_reconnects_total',
          help: 'Push-channel (re)connections',
          registers,
        }),
      };
    }
  }

  /** Connect (see the file header); resolves once a table is held. */
  static async start(opts: RoutingClientOptions): Promise<RoutingClient> {
    const client = new RoutingClient(opts);
    try {
      await client.begin();
    } catch (err) {
      await client.close();
      throw err;
    }
    return client;
  }

  // ---- RoutingSource -----------------------------------------------------------------------

  get resolver(): Resolver {
    if (!this._resolver) throw new Error('RoutingClient: no table yet (use RoutingClient.start)');
    return this._resolver;
  }

  get table(): RoutingTable {
    return this.resolver.table;
  }

  get epoch(): number {
    return this._resolver?.epoch ?? 0;
  }

  staleMs(): number {
    return this.heardAt === 0 ? Number.POSITIVE_INFINITY : Math.max(0, Date.now() - this.heardAt);
  }

  onTable(listener: (table: RoutingTable) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  waitForEpoch(epoch: number, timeoutMs: number): Promise<boolean> {
    if (this.epoch >= epoch) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const w = {
        epoch,
        done: (ok: boolean) => {
          clearTimeout(timer);
          this.waiters.delete(w);
          resolve(ok);
        },
      };
      const timer = setTimeout(() => w.done(false), timeoutMs);
      this.waiters.add(w);
    });
  }

  /** `GET /table` from the connected GZS (else any): true when it held a newer epoch. */
  refresh(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    this.refreshing ??= this.fetchNewest().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this._state = 'closed';
    const s = this.socket;
    if (s && s.readyState === WebSocket.OPEN) {
      // a clean goodbye: GZS stops counting this holder at once instead of after its lease
      if (this.opts.holder) s.send('{"t":"bye"}');
      s.close(1000);
    } else s?.terminate();
    this.wakeSleep?.();
    for (const w of this.waiters) w.done(false);
    await this.loop?.catch(() => undefined);
    await this.cacheWrite.catch(() => undefined);
  }

  // ---- extras ------------------------------------------------------------------------------

  get state(): ClientState {
    return this._state;
  }

  /** where the table held came from: GZS, or the cache file (no GZS had a newer one since start) */
  get source(): 'gzs' | 'cache' | 'none' {
    return this._source;
  }

  /** the GZS URL of the open push channel */
  get url(): string | undefined {
    return this._state === 'connected' ? this.connectedUrl : undefined;
  }

  get generation(): string {
    return this._generation;
  }

  // ---- internals ---------------------------------------------------------------------------

  private log(level: 'info' | 'warn' | 'debug', obj: Record<string, unknown>, msg: string): void {
    this.opts.log?.[level](obj, msg);
  }

  private async begin(): Promise<void> {
    const contact = new Promise<void>((resolve) => {
      this.firstContact = resolve;
    });
    const oneRoundFailed = new Promise<void>((resolve) => {
      this.roundFailed = resolve;
    });
    const cache = this.opts.cacheFile ? readCacheFile(this.opts.cacheFile) : undefined;
    if (cache && !cache.ok && !cache.missing)
      this.log('warn', { problem: cache.problem }, 'ignoring the cache file');
    if (cache?.ok) {
      // the cache is the floor: GZS's table replaces it only when newer (or of a re-created store),
      // so a restart never goes back to an older epoch than this process held before
      const c = cache.cache;
      this.apply(c.generation, c.table, 'cache', c.heardAt);
    }
    this.loop = this.connectLoop();
    if (cache?.ok) {
      // wait for GZS's answer; the cache alone serves when no GZS answers in one round
      await Promise.race([contact, oneRoundFailed]);
      if (this._source === 'cache') {
        this.log(
          'warn',
          {
            epoch: this.epoch,
            cacheFile: this.opts.cacheFile,
            savedAt: new Date(cache.cache.savedAt).toISOString(),
            error: this.lastError,
          },
          'routing from the cache file (no GZS answered, or none had a newer table)',
        );
      }
      return;
    }
    const timeoutMs = this.opts.startTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([contact, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      const why = cache && !cache.ok ? cache.problem : 'no cache file configured';
      throw new EzError(
        'EZ_NO_TABLE',
        `no routing table: no GZS answered at ${this.urls.join(', ')} within ${timeoutMs} ms (last error: ${this.lastError || 'none'}) and ${why}`,
      );
    }
  }

  private async connectLoop(): Promise<void> {
    let round = 0;
    let i = 0;
    while (!this.closed) {
      const url = this.urls[i % this.urls.length];
      const t0 = Date.now();
      const gotTable = await this.session(url);
      if (this.closed) break;
      this._state = 'disconnected';
      this.connectedUrl = undefined;
      // a connection that served for a while counts as success; one that flaps at once does not
      const heardTable = gotTable && Date.now() - t0 > 1000;
      if (heardTable) {
        round = 0; // start over gently (the next URL first)
      } else if ((i + 1) % this.urls.length === 0) {
        this.roundFailed?.();
        round++;
      }
      i++;
      // a failure on one URL moves on to the next one at once; a full failed round backs off
      const delay =
        heardTable || i % this.urls.length !== 0
          ? backoffDelay(0, { initialMs: 50 })
          : backoffDelay(round, this.opts.backoff);
      await new Promise<void>((resolve) => {
        this.wakeSleep = resolve;
        this.sleepTimer = setTimeout(resolve, delay);
      });
      clearTimeout(this.sleepTimer);
      this.wakeSleep = undefined;
    }
  }

  /** One push-channel connection; resolves when it ends. True when it delivered a table. */
  private session(base: string): Promise<boolean> {
    const connectTimeoutMs = this.opts.connectTimeoutMs ?? 2000;
    return new Promise((resolve) => {
      let gotTable = false;
      let settled = false;
      const ws = new WebSocket(wsUrl(base), { handshakeTimeout: connectTimeoutMs, perMessageDeflate: false });
      this.socket = ws;
      this._state = 'connecting';
      // a server that accepts but never sends a table counts as a failed attempt
      let firstTableTimer: NodeJS.Timeout | undefined = setTimeout(() => {
        this.lastError = `${base}: no table within ${connectTimeoutMs} ms`;
        ws.terminate();
      }, connectTimeoutMs);
      let ackTimer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(firstTableTimer);
        clearInterval(ackTimer);
        if (this.socket === ws) this.socket = undefined;
        resolve(gotTable);
      };
      ws.on('open', () => {
        this.m?.reconnects.inc();
        const hello = this.opts.holder
          ? { t: 'hello', holder: this.opts.holder, epoch: this.epoch }
          : { t: 'hello', epoch: this.epoch };
        ws.send(JSON.stringify(hello));
      });
      ws.on('message', (data) => {
        this.heardAt = Date.now();
        const text = String(data);
        if (text.startsWith('{"t":"hb"')) return; // a heartbeat: being heard is all it says
        let msg: ServerMessage;
        try {
          msg = JSON.parse(text) as ServerMessage;
        } catch {
          return;
        }
        if (msg.t === 'table') {
          if (typeof msg.generation !== 'string' || !looksLikeTable(msg.table)) return;
          if (!gotTable) {
            gotTable = true;
            clearTimeout(firstTableTimer);
            firstTableTimer = undefined;
            this._state = 'connected';
            this.connectedUrl = base;
            this.log('info', { url: base, epoch: msg.table.epoch }, 'subscribed to GZS');
          }
          this.apply(msg.generation, msg.table, 'gzs', this.heardAt);
          // acknowledged after this I/O phase: the table is in use already, the ack's write waits
          setImmediate(() => this.ack(ws));
          this.firstContact?.();
          this.firstContact = undefined;
        } else if (msg.t === 'hello') {
          this.heartbeatMs = Math.max(50, Number(msg.heartbeatMs) || 1000);
          clearInterval(ackTimer);
          // heartbeat: renews this holder's lease and proves this client alive; also the watchdog
          ackTimer = setInterval(() => {
            if (Date.now() - this.heardAt > 3 * this.heartbeatMs + 1000) {
              this.lastError = `${base}: silent for ${Date.now() - this.heardAt} ms`;
              ws.terminate();
              return;
            }
            // an ack sent for a new table within the last half heartbeat renewed the lease already
            if (Date.now() - this.ackedAt >= this.heartbeatMs / 2) this.ack(ws);
          }, this.heartbeatMs);
        }
      });
      ws.on('unexpected-response', (_req, res) => {
        this.lastError = `${base}: HTTP ${res.statusCode} on /watch (is this a GZS?)`;
        ws.terminate();
        finish();
      });
      ws.on('error', (err) => {
        this.lastError = `${base}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`;
      });
      ws.on('close', () => {
        if (gotTable && !this.closed)
          this.log('warn', { url: base, error: this.lastError }, 'GZS connection lost');
        finish();
      });
    });
  }

  private ack(ws: WebSocket): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    const held = this.epoch;
    const epoch = this.opts.ackableEpoch ? Math.min(held, this.opts.ackableEpoch(held)) : held;
    ws.send(`{"t":"ack","epoch":${epoch}}`);
    this.ackedEpoch = epoch;
    this.ackedAt = Date.now();
  }

  /** Acknowledge now (after `ackableEpoch` would answer a newer epoch than the one last sent). */
  acknowledge(): void {
    if (this.socket) this.ack(this.socket);
  }

  /** the epoch last acknowledged to GZS (0 before the first) */
  get acknowledgedEpoch(): number {
    return this.ackedEpoch;
  }

  /** Take `table` if it is newer (or of another generation: a re-created store). */
  private apply(generation: string, table: RoutingTable, from: 'gzs' | 'cache', heardAt: number): boolean {
    const current = this._resolver;
    if (current && generation === this._generation && table.epoch <= current.epoch) {
      if (table.epoch < current.epoch && from === 'gzs' && Date.now() - this.warnedOlder > 60_000) {
        this.warnedOlder = Date.now();
        this.log(
          'warn',
          { held: current.epoch, offered: table.epoch },
          'GZS offers an older epoch than held: kept the newer',
        );
      }
      return false;
    }
    if (current && generation !== this._generation) {
      this.log(
        'warn',
        { from: this._generation, to: generation, epoch: table.epoch },
        'GZS store was re-created: taking its table',
      );
    }
    if (current) current.setTable(table);
    else this._resolver = new Resolver(table, this.fences);
    this._generation = generation;
    this._source = from;
    if (from === 'cache') this.heardAt = heardAt;
    this.m?.tables.inc();
    for (const l of this.listeners) {
      try {
        l(table);
      } catch (err) {
        this.log('warn', { err: errorMessage(err) }, 'onTable listener failed');
      }
    }
    for (const w of this.waiters) if (table.epoch >= w.epoch) w.done(true);
    if (from === 'gzs') this.saveCache();
    return true;
  }

  /** Write the newest table to the cache file; writes are serialized and coalesced to the newest. */
  private saveCache(): void {
    const file = this.opts.cacheFile;
    if (!file || this.cachePending) return;
    this.cachePending = true;
    this.cacheWrite = this.cacheWrite.then(async () => {
      this.cachePending = false;
      try {
        await writeCacheFile(file, {
          generation: this._generation,
          heardAt: this.heardAt,
          savedAt: Date.now(),
          table: this.table,
        });
      } catch (err) {
        this.log('warn', { cacheFile: file, err: errorMessage(err) }, 'cannot write the cache file');
      }
    });
  }

  private async fetchNewest(): Promise<boolean> {
    const order = this.connectedUrl
      ? [this.connectedUrl, ...this.urls.filter((u) => u !== this.connectedUrl)]
      : this.urls;
    for (const base of order) {
      try {
        const res = await request(`${base}/table`, {
          headersTimeout: 2000,
          bodyTimeout: 2000,
          headers: this._resolver ? { 'if-none-match': `"${this._generation}.${this.epoch}"` } : {},
        });
        if (res.statusCode === 304) {
          await res.body.dump();
          this.heardAt = Date.now();
          return false;
        }
        if (res.statusCode !== 200) {
          await res.body.dump();
          this.lastError = `${base}: GET /table answered ${res.statusCode}`;
          continue;
        }
        const generation = String(res.headers['x-ez-generation'] ?? '');
        const parsed = RoutingTableSchema.safeParse(await res.body.json());
        if (!parsed.success || !generation) {
          this.lastError = `${base}: GET /table answered something that is not a routing table`;
          continue;
        }
        this.heardAt = Date.now();
        return this.apply(generation, parsed.data as RoutingTable, 'gzs', this.heardAt);
      } catch (err) {
        this.lastError = `${base}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`;
      }
    }
    return false;
  }
}

/** A default holder id for this process: `<kind>@<eZone>/<host>:<pid>`. */
export function defaultHolderId(kind: string, zone?: string | null): string {
  return `${kind}${zone ? `@${zone}` : ''}/${hostname()}:${process.pid}`.replace(/[^A-Za-z0-9_.:@/-]/g, '_');
}
