/**
 * One connection from the DAL to a MariaDB (its eZone's, or the Global-Zone master's): the
 * handshake as a client with the capabilities the DAL's own client negotiated (so the backend's
 * packets can be relayed to that client byte for byte), then commands — relayed (the answer's
 * chunks go straight to a sink) or run for the DAL itself (ROLLBACK at a fence, @@last_gtid).
 */
import { connect, type Socket } from 'node:net';
import { nativeToken } from './protocol/auth.js';
import {
  CLIENT,
  COM,
  type ErrInfo,
  type OkInfo,
  PacketReader,
  packet,
  parseErr,
  parseOk,
  readLenenc,
} from './protocol/packets.js';
import { type ResponseSummary, ResponseTracker } from './protocol/response.js';

/** Where a MariaDB listens: TCP, or its unix socket (same host: far cheaper per packet than loopback TCP). */
export type MariaDbAddress = { host: string; port: number } | { socket: string };

export const formatAddress = (a: MariaDbAddress): string =>
  'socket' in a ? a.socket : `${a.host}:${a.port}`;

export type BackendOptions = MariaDbAddress & {
  user: string;
  password: string;
  database?: string | null;
  /** the client flags to log in with (the DAL's client's, minus what the backend lacks) */
  capabilities: number;
  /** collation id of the connection (the client's) */
  charset: number;
  connectTimeoutMs?: number;
};

export interface ServerGreeting {
  version: string;
  connectionId: number;
  capabilities: number;
  charset: number;
  status: number;
}

export class BackendError extends Error {
  constructor(
    message: string,
    readonly code: number = 2013,
    /** set when MariaDB itself answered with this error (relayed to the client as it is) */
    readonly server?: ErrInfo,
  ) {
    super(message);
  }
}

/** What a relay writes to: the client's socket, with backpressure. */
export interface Sink {
  write(chunk: Buffer): boolean;
  /** called when a write returned false and the client drained */
  onDrain(fn: () => void): void;
}

export class Backend {
  readonly socket: Socket;
  greeting!: ServerGreeting;
  capabilities = 0;
  /** the collation id the connection was opened with */
  charsetId = 0;
  /** the capabilities asked for (the pool's key) */
  requested = 0;
  /** status flags of the last answer (IN_TRANS, AUTOCOMMIT) */
  status = 0;
  private reader = new PacketReader(1 << 30);
  private pending: ((chunk: Buffer) => void) | null = null;
  private closedWith: Error | null = null;
  private closeWaiters = new Set<(err: Error) => void>();
  private leftover: Buffer | null = null;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (this.pending) this.pending(chunk);
      else if (this.leftover) this.leftover = Buffer.concat([this.leftover, chunk]);
      else this.leftover = chunk;
    });
    const gone = (err: Error) => {
      if (this.closedWith) return;
      this.closedWith = err;
      for (const w of this.closeWaiters) w(err);
      this.closeWaiters.clear();
    };
    socket.on('error', (err) => gone(new BackendError(`backend connection failed: ${err.message}`, 2013)));
    socket.on('close', () => gone(new BackendError('backend closed the connection', 2013)));
  }

  get alive(): boolean {
    return this.closedWith === null && !this.socket.destroyed;
  }

  static async connect(o: BackendOptions): Promise<Backend> {
    const socket = 'socket' in o ? connect({ path: o.socket }) : connect({ host: o.host, port: o.port });
    const b = new Backend(socket);
    const timeout = setTimeout(
      () => socket.destroy(new Error(`no answer within ${o.connectTimeoutMs ?? 5000} ms`)),
      o.connectTimeoutMs ?? 5000,
    );
    try {
      await b.handshake(o);
    } catch (err) {
      socket.destroy();
      throw err instanceof BackendError
        ? err
        : new BackendError(
            `cannot log in to MariaDB at ${formatAddress(o)}: ${(err as Error).message}`,
            2003,
          );
    } finally {
      clearTimeout(timeout);
    }
    return b;
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** The next whole packet from the server (during the handshake and DAL-internal commands). */
  private async nextPacket(): Promise<{ seq: number; payload: Buffer }> {
    for (;;) {
      const p = this.reader.next();
      if (p) return p;
      if (this.leftover) {
        const l = this.leftover;
        this.leftover = null;
        this.reader.push(l);
        continue;
      }
      if (this.closedWith) throw this.closedWith;
      await new Promise<void>((resolve, reject) => {
        const onClose = (err: Error) => {
          this.pending = null;
          reject(err);
        };
        this.closeWaiters.add(onClose);
        this.pending = (chunk) => {
          this.pending = null;
          this.closeWaiters.delete(onClose);
          this.reader.push(chunk);
          resolve();
        };
      });
    }
  }

  private async handshake(o: BackendOptions): Promise<void> {
    const { payload: g } = await this.nextPacket();
    if (g[0] === 0xff) throw new BackendError(`MariaDB refused the connection: ${parseErr(g).message}`, 2003);
    if (g[0] !== 10) throw new BackendError(`unexpected handshake protocol ${g[0]} (expected 10)`, 2003);
    let off = 1;
    const vEnd = g.indexOf(0, off);
    const version = g.toString('latin1', off, vEnd);
    off = vEnd + 1;
    const connectionId = g.readUInt32LE(off);
    off += 4;
    const part1 = g.subarray(off, off + 8);
    off += 9;
    const capsLow = g.readUInt16LE(off);
    off += 2;
    const charset = g[off];
    off += 1;
    const status = g.readUInt16LE(off);
    off += 2;
    const capsHigh = g.readUInt16LE(off);
    off += 2;
    const authLen = g[off];
    off += 1 + 10;
    const part2Len = Math.max(13, authLen - 8);
    const part2 = g.subarray(off, off + part2Len - 1); // without its NUL
    off += part2Len;
    const serverCaps = capsLow | (capsHigh << 16);
    this.greeting = { version, connectionId, capabilities: serverCaps >>> 0, charset, status };
    const scramble = Buffer.concat([part1, part2]);

    let caps =
      (o.capabilities & serverCaps) | CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION | CLIENT.PLUGIN_AUTH;
    caps &= ~(CLIENT.SSL | CLIENT.COMPRESS | CLIENT.CONNECT_ATTRS | CLIENT.LOCAL_FILES);
    if (o.database) caps |= CLIENT.CONNECT_WITH_DB;
    else caps &= ~CLIENT.CONNECT_WITH_DB;
    this.capabilities = caps >>> 0;
    this.charsetId = o.charset;
    this.requested = o.capabilities;
    const head = Buffer.alloc(32);
    head.writeUInt32LE(this.capabilities, 0);
    head.writeUInt32LE(1 << 24, 4);
    head[8] = o.charset;
    const token = nativeToken(o.password, scramble);
    const parts = [head, Buffer.from(`${o.user}\0`), Buffer.from([token.length]), token];
    if (o.database) parts.push(Buffer.from(`${o.database}\0`));
    parts.push(Buffer.from('mysql_native_password\0'));
    this.socket.write(packet(1, Buffer.concat(parts)));
    for (let seq = 3; ; seq += 2) {
      const { payload } = await this.nextPacket();
      if (payload[0] === 0x00) {
        this.status = parseOk(payload).status;
        return;
      }
      if (payload[0] === 0xff) {
        const e = parseErr(payload);
        throw new BackendError(`MariaDB refused the login of ${o.user}: ${e.message}`, e.code, e);
      }
      if (payload[0] === 0xfe) {
        // auth switch request: plugin name, then a new scramble
        const pEnd = payload.indexOf(0, 1);
        const plugin = payload.toString('latin1', 1, pEnd);
        if (plugin !== 'mysql_native_password')
          throw new BackendError(
            `MariaDB asks for auth plugin ${plugin}; the DAL speaks mysql_native_password`,
            2059,
          );
        const data = payload.subarray(pEnd + 1, pEnd + 21);
        this.socket.write(packet(seq - 1, nativeToken(o.password, data)));
        continue;
      }
      throw new BackendError(`unexpected login answer 0x${payload[0].toString(16)}`, 2027);
    }
  }

  /**
   * Send one command's bytes (a whole packet, its sequence 0) and relay the answer to `sink` as it
   * arrives; resolves with what the answer said once it is complete.
   */
  relay(
    command: Buffer,
    code: number,
    sink: Sink,
    opts: { cursor?: boolean } = {},
  ): Promise<ResponseSummary> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const tracker = new ResponseTracker(code, (this.capabilities & CLIENT.DEPRECATE_EOF) !== 0, opts.cursor);
    return new Promise((resolve, reject) => {
      const onClose = (err: Error) => {
        this.pending = null;
        reject(err);
      };
      this.closeWaiters.add(onClose);
      const take = (chunk: Buffer) => {
        const used = tracker.feed(chunk);
        const mine = used === chunk.length ? chunk : chunk.subarray(0, used);
        if (used < chunk.length) this.leftover = chunk.subarray(used);
        if (!sink.write(mine) && !tracker.complete) {
          this.socket.pause();
          sink.onDrain(() => this.socket.resume());
        }
        if (tracker.complete) {
          this.pending = null;
          this.closeWaiters.delete(onClose);
          if (tracker.summary.status !== undefined) this.status = tracker.summary.status;
          resolve(tracker.summary);
        }
      };
      this.pending = take;
      this.socket.write(command);
      if (this.leftover) {
        const l = this.leftover;
        this.leftover = null;
        take(l);
      }
    });
  }

  /** COM_RESET_CONNECTION: session state gone (transaction, variables, prepared statements); true when OK. */
  async reset(): Promise<boolean> {
    const s = await this.relay(packet(0, Buffer.from([COM.RESET_CONNECTION])), COM.RESET_CONNECTION, {
      write: () => true,
      onDrain: () => undefined,
    });
    return !s.error;
  }

  /** Send a command that has no answer (COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA). */
  send(command: Buffer): void {
    this.socket.write(command);
  }

  /** A text query for the DAL itself: its OK or ERR (a result set is read and dropped; first row kept). */
  async query(sql: string): Promise<{ ok: OkInfo } | { err: ErrInfo } | { row: (string | null)[] }> {
    const summaryRows: (string | null)[][] = [];
    let firstRow: (string | null)[] | null = null;
    const chunks: Buffer[] = [];
    const summary = await this.relay(
      packet(0, Buffer.concat([Buffer.from([COM.QUERY]), Buffer.from(sql)])),
      COM.QUERY,
      {
        write: (c) => {
          chunks.push(c);
          return true;
        },
        onDrain: () => undefined,
      },
    );
    if (summary.error) return { err: summary.error };
    // a result set: decode the first text row (DAL-internal queries ask for one value)
    const r = new PacketReader(1 << 30);
    r.push(Buffer.concat(chunks));
    const first = r.next()!;
    if (first.payload[0] === 0x00) return { ok: parseOk(first.payload) };
    const cols = readLenenc(first.payload, 0).value ?? 0;
    for (let i = 0; i < cols; i++) r.next();
    if (!(this.capabilities & CLIENT.DEPRECATE_EOF)) r.next();
    const row = r.next();
    if (row && !(row.payload[0] === 0xfe && row.payload.length < 9) && row.payload[0] !== 0xff) {
      firstRow = [];
      let off = 0;
      for (let i = 0; i < cols; i++) {
        const len = readLenenc(row.payload, off);
        off += len.bytes;
        if (len.value === null) firstRow.push(null);
        else {
          firstRow.push(row.payload.toString('utf8', off, off + len.value));
          off += len.value;
        }
      }
      summaryRows.push(firstRow);
    }
    return { row: firstRow ?? [] };
  }
}
