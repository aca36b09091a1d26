/**
 * Where GZS keeps its document durably. `FileStore` (the embedded default: one JSON file, written
 * atomically and fsync'd) and `ZkStore` (ZooKeeper, for several GZS instances; zk-store.ts).
 * A commit resolves only once the write is durable; GZS acknowledges a change after that.
 */
import { closeSync, fsyncSync, openSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { writeFileDurably } from '../sdk/index.js';
import { UsageError } from '../util/errors.js';
import type { AckEntry } from './acks.js';
import { type GzsDoc, parseDoc } from './doc.js';

/** The store moved on under us (another GZS instance committed first): `latest` is what it holds now. */
export class StaleStoreError extends Error {
  constructor(readonly latest: GzsDoc) {
    super(`the store holds a newer document (epoch ${latest.table.epoch})`);
    this.name = 'StaleStoreError';
  }
}

/** The store cannot take a durable write now (e.g. ZooKeeper is unreachable). */
export class StoreUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}

export interface StoreEvents {
  /** a document some other writer committed (ZooKeeper watch) */
  onDoc(doc: GzsDoc): void;
  /** what the other GZS instances published about their holders (null: that instance's record is gone) */
  onAcks(instance: string, entries: AckEntry[] | null): void;
  /** connection state changes, for health and logs */
  onState(state: StoreState): void;
}

export type StoreState = 'connected' | 'disconnected' | 'reconnecting';

export interface TableStore {
  /** `file:/path` or `zk:host:port/path`, for logs and health */
  readonly description: string;
  /** largest document (bytes of JSON) it holds, when it has a limit (a ZooKeeper znode) */
  readonly maxDocBytes?: number;
  readonly state: StoreState;
  /** Load the stored document, or store `initial` when there is none yet; returns what is in force. */
  open(initial: () => GzsDoc, events: StoreEvents): Promise<GzsDoc>;
  /** Durably replace `prev` by `next`; StaleStoreError when the store no longer holds `prev`. */
  commit(prev: GzsDoc, next: GzsDoc): Promise<void>;
  /**
   * Confirm, without writing, that the store still holds `doc` (before answering a batch of no-ops
   * from it); StaleStoreError when another writer moved on. Not needed by a single-writer store.
   */
  verify?(doc: GzsDoc): Promise<void>;
  /** Make this instance's holder heartbeats visible to the other instances (no-op for one instance). */
  publishAcks(instance: string, entries: AckEntry[]): Promise<void>;
  close(): Promise<void>;
}

export type StoreSpec = { type: 'file'; path: string } | { type: 'zk'; connect: string; path: string };

export const DEFAULT_ZK_PATH = '/ezctl/gzs';

/** `file:<path>` or `zk:<host:port>[,<host:port>...][/<path>]` (a bare path means file). */
export function parseStoreSpec(text: string): StoreSpec {
  if (text.startsWith('zk:')) {
    const rest = text.slice(3);
    const slash = rest.indexOf('/');
    const connect = slash < 0 ? rest : rest.slice(0, slash);
    const path = slash < 0 ? DEFAULT_ZK_PATH : rest.slice(slash).replace(/\/+$/, '');
    const hostRe = /^[A-Za-z0-9.-]+:\d{1,5}$/;
    if (!connect.split(',').every((h) => hostRe.test(h))) {
      throw new UsageError(
        `store ${JSON.stringify(text)}: expected zk:<host:port>[,<host:port>...][/<path>], e.g. zk:127.0.0.1:2181/ezctl/gzs`,
      );
    }
    if (!/^(\/[A-Za-z0-9_.-]+)+$/.test(path)) {
      throw new UsageError(`store ${JSON.stringify(text)}: bad ZooKeeper path ${JSON.stringify(path)}`);
    }
    return { type: 'zk', connect, path };
  }
  const path = text.startsWith('file:') ? text.slice(5) : text;
  if (!path) throw new UsageError('store "file:": expected file:<path of the table file>');
  return { type: 'file', path: resolve(path) };
}

export function describeStore(spec: StoreSpec): string {
  return spec.type === 'file' ? `file:${spec.path}` : `zk:${spec.connect}${spec.path}`;
}

/**
 * One JSON file. Only one GZS process may use it: a lock file next to it holds the owner's pid
 * (hand-written: ~20 lines instead of a dependency; a stale lock of a dead pid is taken over).
 */
export class FileStore implements TableStore {
  readonly state: StoreState = 'connected';
  readonly description: string;
  private readonly lockFile: string;
  private locked = false;

  constructor(readonly path: string) {
    this.description = `file:${path}`;
    this.lockFile = `${path}.lock`;
  }

  async open(initial: () => GzsDoc, events: StoreEvents): Promise<GzsDoc> {
    await mkdir(dirname(this.path), { recursive: true });
    this.lock();
    events.onState('connected');
    let text: string | undefined;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== undefined) return parseDoc(text, this.path);
    const doc = initial();
    await writeFileDurably(this.path, JSON.stringify(doc));
    return doc;
  }

  async commit(_prev: GzsDoc, next: GzsDoc): Promise<void> {
    // one process owns the file (lock) and GZS serializes its changes: no compare needed
    await writeFileDurably(this.path, JSON.stringify(next));
  }

  async publishAcks(): Promise<void> {}

  async close(): Promise<void> {
    if (!this.locked) return;
    this.locked = false;
    try {
      unlinkSync(this.lockFile);
    } catch {
      // already gone
    }
  }

  private lock(): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(this.lockFile, 'wx');
        writeFileSync(fd, `${process.pid}\n`);
        fsyncSync(fd);
        closeSync(fd);
        this.locked = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const pid = Number.parseInt(readFileSync(this.lockFile, 'utf8'), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new UsageError(
          `${this.path} is in use by another GZS (pid ${pid}, lock ${this.lockFile}): one GZS per table file; use a zk: store for several instances`,
          'EZ_STORE_LOCKED',
        );
      }
      // stale: its owner is gone (a crash); remove it and try once more
      unlinkSync(this.lockFile);
    }
    throw new UsageError(`${this.path}: cannot take the lock ${this.lockFile}`, 'EZ_STORE_LOCKED');
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
