/**
 * ZooKeeper store: several GZS instances over one ZooKeeper ensemble share one table.
 *
 *   <path>/table          the document (JSON); every commit is a setData with the znode version
 *                         of the document it was based on (compare-and-set), so two instances can
 *                         never overwrite each other; the loser re-reads and applies on top
 *   <path>/acks/<inst>    each instance's holder heartbeats (JSON), so any instance can answer
 *                         "have all live holders acknowledged E?" (acks.ts)
 *
 * Every instance watches both: a change committed by one is adopted, served and pushed by all.
 * node-zookeeper-client re-connects and restores watches within a session by itself; an expired
 * session needs a new client, which is made here (and everything is read and watched again).
 */
import zookeeper, { type Client, type Event, type Exception, type Stat } from 'node-zookeeper-client';
import type { Logger } from '../util/log.js';
import type { AckEntry } from './acks.js';
import { docSizes, type GzsDoc, parseDoc } from './doc.js';
import { GzsError } from './errors.js';
import {
  StaleStoreError,
  type StoreEvents,
  type StoreState,
  StoreUnavailableError,
  type TableStore,
} from './store.js';

/** ZooKeeper's default jute.maxbuffer is 1 MiB - 1; stay clear of it. */
export const MAX_ZNODE_BYTES = 1_000_000;
/** A published acks record older than this (its instance is gone) is removed by whoever reads it. */
const STALE_ACKS_MS = 10 * 60_000;

export interface ZkStoreOptions {
  /** `host:port[,host:port...]` */
  connect: string;
  /** base znode path, e.g. /ezctl/two-zones/gzs */
  path: string;
  instance: string;
  log?: Logger;
  sessionTimeoutMs?: number;
  /** one ZooKeeper operation (default 5 s) */
  opTimeoutMs?: number;
  /** first connection at open (default 15 s) */
  connectTimeoutMs?: number;
}

const isCode = (err: unknown, code: number): boolean =>
  typeof (err as Exception)?.getCode === 'function' && (err as Exception).getCode() === code;

export class ZkStore implements TableStore {
  readonly description: string;
  /** GZS trims the history to fit (doc.ts fitHistory); what still does not fit is refused */
  readonly maxDocBytes = MAX_ZNODE_BYTES;
  private client!: Client;
  private _state: StoreState = 'disconnected';
  private events!: StoreEvents;
  private readonly versionOf = new WeakMap<GzsDoc, number>();
  private latest: GzsDoc | undefined;
  private closed = false;
  private stuckTimer: NodeJS.Timeout | undefined;
  private readonly tablePath: string;
  private readonly acksPath: string;

  constructor(private readonly o: ZkStoreOptions) {
    this.description = `zk:${o.connect}${o.path}`;
    this.tablePath = `${o.path}/table`;
    this.acksPath = `${o.path}/acks`;
  }

  get state(): StoreState {
    return this._state;
  }

  async open(initial: () => GzsDoc, events: StoreEvents): Promise<GzsDoc> {
    this.events = events;
    await this.connect(this.o.connectTimeoutMs ?? 15_000);
    await this.op<string>((cb) => this.client.mkdirp(this.acksPath, cb));
    const doc = initial();
    try {
      await this.op<string>((cb) => this.client.create(this.tablePath, Buffer.from(JSON.stringify(doc)), cb));
      this.o.log?.info(
        { store: this.description, epoch: doc.table.epoch },
        'initialised the table in ZooKeeper',
      );
    } catch (err) {
      if (!isCode(err, zookeeper.Exception.NODE_EXISTS)) throw err;
    }
    const current = await this.readTable();
    this.watchAcks();
    return current;
  }

  async commit(prev: GzsDoc, next: GzsDoc): Promise<void> {
    if (this._state !== 'connected')
      throw new StoreUnavailableError(`ZooKeeper ${this.o.connect} is ${this._state}`);
    const data = Buffer.from(JSON.stringify(next));
    if (data.length > MAX_ZNODE_BYTES) {
      const z = docSizes(next);
      throw new GzsError(
        413,
        'EZ_TABLE_TOO_LARGE',
        `the document would take ${data.length} bytes (table ${z.table}, ownership log ${z.ownership}, history ${z.history}), more than a ZooKeeper znode holds (${MAX_ZNODE_BYTES}); release order locks first, or keep the ownership log shorter (ownershipRetentionMs)`,
      );
    }
    const version = this.versionOf.get(prev);
    if (version === undefined) throw new StaleStoreError(await this.readTable(false));
    try {
      const stat = await this.op<Stat>((cb) => this.client.setData(this.tablePath, data, version, cb));
      this.versionOf.set(next, stat.version);
      this.latest = next;
    } catch (err) {
      if (isCode(err, zookeeper.Exception.BAD_VERSION))
        throw new StaleStoreError(await this.readTable(false));
      throw err;
    }
  }

  /**
   * A multi-op holding only a version check: it goes through the leader like a write, so it sees
   * every commit before it (a plain read may be served by a lagging follower), yet writes nothing.
   */
  async verify(doc: GzsDoc): Promise<void> {
    if (this._state !== 'connected')
      throw new StoreUnavailableError(`ZooKeeper ${this.o.connect} is ${this._state}`);
    const version = this.versionOf.get(doc);
    if (version === undefined) throw new StaleStoreError(await this.readTable(false));
    try {
      await this.op<unknown>((cb) => {
        const tx = this.client.transaction().check(this.tablePath, version);
        // node-zookeeper-client's check() turns version 0 into -1 ("any version"): set it on the op
        (tx as unknown as { ops: { version: number }[] }).ops[0].version = version;
        tx.commit(cb);
      });
    } catch (err) {
      if (isCode(err, zookeeper.Exception.BAD_VERSION))
        throw new StaleStoreError(await this.readTable(false));
      throw err;
    }
  }

  async publishAcks(instance: string, entries: AckEntry[]): Promise<void> {
    if (this._state !== 'connected' || this.closed) return;
    const data = Buffer.from(JSON.stringify({ instance, writtenAt: Date.now(), holders: entries }));
    const path = `${this.acksPath}/${instance}`;
    try {
      await this.op<Stat>((cb) => this.client.setData(path, data, cb));
    } catch (err) {
      if (!isCode(err, zookeeper.Exception.NO_NODE)) throw err;
      await this.op<string>((cb) => this.client.create(path, data, cb));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.stuckTimer);
    this._state = 'disconnected';
    this.client?.close();
  }

  // ---- internals ---------------------------------------------------------------------------

  /** A callback-style ZooKeeper call as a promise, bounded by opTimeoutMs. */
  private op<T>(call: (cb: (err: Error | Exception | null, result: T) => void) => void): Promise<T> {
    const timeoutMs = this.o.opTimeoutMs ?? 5000;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new StoreUnavailableError(`ZooKeeper ${this.o.connect} did not answer within ${timeoutMs} ms`),
          ),
        timeoutMs,
      );
      call((err, result) => {
        clearTimeout(timer);
        if (err) {
          if (
            isCode(err, zookeeper.Exception.CONNECTION_LOSS) ||
            isCode(err, zookeeper.Exception.SESSION_EXPIRED)
          ) {
            reject(new StoreUnavailableError(`ZooKeeper ${this.o.connect}: ${String(err)}`));
          } else reject(err);
        } else resolve(result);
      });
    });
  }

  private connect(timeoutMs: number): Promise<void> {
    const sessionTimeoutMs = this.o.sessionTimeoutMs ?? 6000;
    const client = zookeeper.createClient(this.o.connect, {
      sessionTimeout: sessionTimeoutMs,
      spinDelay: 200,
      retries: 1,
    });
    this.client = client;
    client.on('state', (s) => {
      if (client !== this.client || this.closed) return;
      if (s === zookeeper.State.SYNC_CONNECTED) {
        clearTimeout(this.stuckTimer);
        const was = this._state;
        this.setState('connected');
        // after a reconnect, read again: a change may have slipped between watch and re-watch
        if (was !== 'connected' && this.latest) this.readTable().catch(() => undefined);
      } else if (s === zookeeper.State.DISCONNECTED) {
        this.setState('disconnected');
        // node-zookeeper-client was seen to stay disconnected for a minute after a ZooKeeper
        // restart (its reconnects refused while the server starts); once the session timeout has
        // passed the session is gone on the server anyway: start a new one
        clearTimeout(this.stuckTimer);
        this.stuckTimer = setTimeout(() => {
          if (client !== this.client || this.closed || this._state === 'connected') return;
          this.renew(client, 'still disconnected after the session timeout');
        }, sessionTimeoutMs + 1000);
      } else if (s === zookeeper.State.EXPIRED) {
        this.renew(client, 'session expired');
      }
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        client.close();
        reject(new Error(`cannot reach ZooKeeper at ${this.o.connect} within ${timeoutMs} ms`));
      }, timeoutMs);
      client.once('connected', () => {
        clearTimeout(timer);
        this.setState('connected');
        resolve();
      });
      client.connect();
    });
  }

  private renew(client: Client, why: string): void {
    clearTimeout(this.stuckTimer);
    this.setState('reconnecting');
    this.o.log?.warn({ store: this.description, why }, 'ZooKeeper: opening a new session');
    client.close();
    this.reopen();
  }

  /** A new session (after expiry): connect (retrying), then read and watch everything again. */
  private reopen(): void {
    const attempt = (): void => {
      if (this.closed) return;
      this.connect(30_000)
        .then(async () => {
          await this.readTable();
          this.watchAcks();
        })
        .catch((err) => {
          this.o.log?.warn({ err: (err as Error).message }, 'ZooKeeper reconnect failed; retrying');
          setTimeout(attempt, 1000);
        });
    };
    attempt();
  }

  private setState(s: StoreState): void {
    if (this._state === s) return;
    this._state = s;
    this.events.onState(s);
  }

  /** Read the table (and with `watch`, re-arm the data watch); hands a newer one to onDoc. */
  private async readTable(watch = true): Promise<GzsDoc> {
    const client = this.client;
    const watcher = (e: Event): void => {
      if (this.closed || client !== this.client) return;
      if (e.getType() === zookeeper.Event.NODE_DATA_CHANGED || e.getType() === zookeeper.Event.NODE_CREATED) {
        this.readTable().catch((err) =>
          this.o.log?.warn({ err: (err as Error).message }, 'cannot re-read the table'),
        );
      }
    };
    const [data, stat] = await new Promise<[Buffer, Stat]>((resolve, reject) => {
      const cb = (err: Error | Exception | null, d: Buffer, s: Stat): void =>
        err ? reject(err) : resolve([d, s]);
      if (watch) client.getData(this.tablePath, watcher, cb);
      else client.getData(this.tablePath, cb);
    });
    const doc = parseDoc(data.toString('utf8'), `${this.description}/table`);
    this.versionOf.set(doc, stat.version);
    const prev = this.latest;
    const prevVersion = prev ? this.versionOf.get(prev) : undefined;
    if (!prev || prevVersion === undefined || stat.version > prevVersion) {
      this.latest = doc;
      if (prev) this.events.onDoc(doc);
      return doc;
    }
    return prev;
  }

  /** Watch the acks records of every instance (children and their data). */
  private watchAcks(): void {
    const client = this.client;
    const known = new Set<string>();
    const readChild = (name: string): void => {
      client.getData(
        `${this.acksPath}/${name}`,
        (e) => {
          if (this.closed || client !== this.client) return;
          if (e.getType() === zookeeper.Event.NODE_DATA_CHANGED) readChild(name);
        },
        (err, data) => {
          if (err) {
            if (isCode(err, zookeeper.Exception.NO_NODE)) {
              known.delete(name);
              this.events.onAcks(name, null);
            }
            return;
          }
          try {
            const rec = JSON.parse(data.toString('utf8')) as { writtenAt: number; holders: AckEntry[] };
            if (name !== this.o.instance && Date.now() - rec.writtenAt > STALE_ACKS_MS) {
              client.remove(`${this.acksPath}/${name}`, () => undefined); // its instance is long gone
              return;
            }
            this.events.onAcks(name, Array.isArray(rec.holders) ? rec.holders : []);
          } catch {
            // a damaged record: ignore it
          }
        },
      );
    };
    const readChildren = (): void => {
      client.getChildren(
        this.acksPath,
        (e) => {
          if (this.closed || client !== this.client) return;
          if (e.getType() === zookeeper.Event.NODE_CHILDREN_CHANGED) readChildren();
        },
        (err, children) => {
          if (err) return;
          const now = new Set(children);
          for (const name of known) {
            if (!now.has(name)) {
              known.delete(name);
              this.events.onAcks(name, null);
            }
          }
          for (const name of children) {
            if (!known.has(name)) {
              known.add(name);
              readChild(name);
            }
          }
        },
      );
    };
    readChildren();
  }
}
