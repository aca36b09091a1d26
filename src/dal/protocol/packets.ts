/**
 * The MySQL client/server protocol's framing and the few packets the DAL writes itself (OK, ERR,
 * the server greeting, an auth switch), plus its constants. Hand-written: the DAL relays the
 * backend's own packets byte for byte (no decoding of rows — mysql2's server API decodes and
 * re-encodes every row, a per-row cost the DAL's speed target does not allow), so it needs only
 * framing and a handful of packet layouts (MySQL "Client/Server Protocol", MariaDB KB).
 */

export const CLIENT = {
  LONG_PASSWORD: 1,
  FOUND_ROWS: 2,
  LONG_FLAG: 4,
  CONNECT_WITH_DB: 8,
  NO_SCHEMA: 16,
  COMPRESS: 32,
  ODBC: 64,
  LOCAL_FILES: 128,
  IGNORE_SPACE: 256,
  PROTOCOL_41: 512,
  INTERACTIVE: 1024,
  SSL: 2048,
  IGNORE_SIGPIPE: 4096,
  TRANSACTIONS: 8192,
  RESERVED: 16384,
  SECURE_CONNECTION: 32768,
  MULTI_STATEMENTS: 1 << 16,
  MULTI_RESULTS: 1 << 17,
  PS_MULTI_RESULTS: 1 << 18,
  PLUGIN_AUTH: 1 << 19,
  CONNECT_ATTRS: 1 << 20,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 1 << 21,
  CAN_HANDLE_EXPIRED_PASSWORDS: 1 << 22,
  SESSION_TRACK: 1 << 23,
  DEPRECATE_EOF: 1 << 24,
} as const;

/**
 * What the DAL offers clients (intersected with what the backend offers): no compression, no TLS,
 * no LOCAL INFILE (a client file the DAL could not classify), and the MySQL flag (bit 0) so clients
 * use no MariaDB-only extensions either. SESSION_TRACK is offered (and asked of the backend when the
 * client asks for it): MariaDB writes an OK packet's info length-encoded either way, and mysql2
 * reads it length-encoded only when the server offered SESSION_TRACK (else it shows the length byte).
 */
export const DAL_CAPABILITIES =
  CLIENT.LONG_PASSWORD |
  CLIENT.FOUND_ROWS |
  CLIENT.LONG_FLAG |
  CLIENT.CONNECT_WITH_DB |
  CLIENT.ODBC |
  CLIENT.IGNORE_SPACE |
  CLIENT.PROTOCOL_41 |
  CLIENT.INTERACTIVE |
  CLIENT.IGNORE_SIGPIPE |
  CLIENT.TRANSACTIONS |
  CLIENT.SECURE_CONNECTION |
  CLIENT.MULTI_STATEMENTS |
  CLIENT.MULTI_RESULTS |
  CLIENT.PS_MULTI_RESULTS |
  CLIENT.PLUGIN_AUTH |
  CLIENT.CONNECT_ATTRS |
  CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA |
  CLIENT.SESSION_TRACK |
  CLIENT.DEPRECATE_EOF;

/** Flags that only shape the handshake itself: a backend connection need not match them. */
export const HANDSHAKE_ONLY =
  CLIENT.CONNECT_WITH_DB |
  CLIENT.CONNECT_ATTRS |
  CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA |
  CLIENT.CAN_HANDLE_EXPIRED_PASSWORDS;

export const COM = {
  SLEEP: 0x00,
  QUIT: 0x01,
  INIT_DB: 0x02,
  QUERY: 0x03,
  FIELD_LIST: 0x04,
  CREATE_DB: 0x05,
  DROP_DB: 0x06,
  REFRESH: 0x07,
  SHUTDOWN: 0x08,
  STATISTICS: 0x09,
  PROCESS_INFO: 0x0a,
  CONNECT: 0x0b,
  PROCESS_KILL: 0x0c,
  DEBUG: 0x0d,
  PING: 0x0e,
  CHANGE_USER: 0x11,
  BINLOG_DUMP: 0x12,
  STMT_PREPARE: 0x16,
  STMT_EXECUTE: 0x17,
  STMT_SEND_LONG_DATA: 0x18,
  STMT_CLOSE: 0x19,
  STMT_RESET: 0x1a,
  SET_OPTION: 0x1b,
  STMT_FETCH: 0x1c,
  RESET_CONNECTION: 0x1f,
} as const;

export const COM_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(COM).map(([k, v]) => [v, `COM_${k}`]),
);

export const STATUS = {
  IN_TRANS: 0x0001,
  AUTOCOMMIT: 0x0002,
  MORE_RESULTS_EXISTS: 0x0008,
  CURSOR_EXISTS: 0x0040,
  LAST_ROW_SENT: 0x0080,
  SESSION_STATE_CHANGED: 0x4000,
} as const;

/** The largest payload of one physical packet; a payload this long continues in the next one. */
export const MAX_PACKET = 0xffffff;

/** A 4-byte packet header followed by `payload`. */
export function packet(seq: number, payload: Buffer): Buffer {
  if (payload.length >= MAX_PACKET) return packets(seq, payload);
  const out = Buffer.allocUnsafe(4 + payload.length);
  out.writeUIntLE(payload.length, 0, 3);
  out[3] = seq & 0xff;
  payload.copy(out, 4);
  return out;
}

/** A payload of 2^24-1 bytes or more: continuation packets, the last one shorter (maybe empty). */
function packets(seq: number, payload: Buffer): Buffer {
  const parts: Buffer[] = [];
  let off = 0;
  for (;;) {
    const len = Math.min(MAX_PACKET, payload.length - off);
    const head = Buffer.allocUnsafe(4);
    head.writeUIntLE(len, 0, 3);
    head[3] = seq++ & 0xff;
    parts.push(head, payload.subarray(off, off + len));
    off += len;
    if (len < MAX_PACKET) return Buffer.concat(parts);
  }
}

/** A length-encoded integer (MySQL's lenenc). */
export function lenenc(n: number | bigint): Buffer {
  const v = BigInt(n);
  if (v < 251n) return Buffer.from([Number(v)]);
  if (v < 0x10000n) {
    const b = Buffer.allocUnsafe(3);
    b[0] = 0xfc;
    b.writeUInt16LE(Number(v), 1);
    return b;
  }
  if (v < 0x1000000n) {
    const b = Buffer.allocUnsafe(4);
    b[0] = 0xfd;
    b.writeUIntLE(Number(v), 1, 3);
    return b;
  }
  const b = Buffer.allocUnsafe(9);
  b[0] = 0xfe;
  b.writeBigUInt64LE(v, 1);
  return b;
}

/** Read a length-encoded integer at `off`: its value and the bytes it took (null value for 0xfb, NULL). */
export function readLenenc(buf: Buffer, off: number): { value: number | null; bytes: number } {
  const first = buf[off];
  if (first < 0xfb) return { value: first, bytes: 1 };
  if (first === 0xfb) return { value: null, bytes: 1 };
  if (first === 0xfc) return { value: buf.readUInt16LE(off + 1), bytes: 3 };
  if (first === 0xfd) return { value: buf.readUIntLE(off + 1, 3), bytes: 4 };
  // 8 bytes: exact up to 2^53, which covers any packet or row count the DAL reads
  return { value: Number(buf.readBigUInt64LE(off + 1)), bytes: 9 };
}

/** A length-encoded string at `off`: its bytes and the bytes it took. */
export function readLenencBytes(buf: Buffer, off: number): { value: Buffer | null; bytes: number } {
  const len = readLenenc(buf, off);
  if (len.value === null) return { value: null, bytes: len.bytes };
  return { value: buf.subarray(off + len.bytes, off + len.bytes + len.value), bytes: len.bytes + len.value };
}

export interface OkInfo {
  affectedRows: number;
  lastInsertId: number;
  status: number;
  warnings: number;
  info?: string;
}

/** An OK packet (PROTOCOL_41); `header` 0xfe makes the OK that ends a result set under DEPRECATE_EOF. */
export function okPayload(o: OkInfo, header = 0x00): Buffer {
  const info = o.info ? Buffer.from(o.info) : Buffer.alloc(0);
  const tail = Buffer.allocUnsafe(4);
  tail.writeUInt16LE(o.status & 0xffff, 0);
  tail.writeUInt16LE(o.warnings & 0xffff, 2);
  return Buffer.concat([Buffer.from([header]), lenenc(o.affectedRows), lenenc(o.lastInsertId), tail, info]);
}

/** Parse an OK packet's payload (its first byte 0x00 or 0xfe). */
export function parseOk(payload: Buffer): OkInfo {
  let off = 1;
  const a = readLenenc(payload, off);
  off += a.bytes;
  const id = readLenenc(payload, off);
  off += id.bytes;
  const status = payload.length >= off + 2 ? payload.readUInt16LE(off) : 0;
  const warnings = payload.length >= off + 4 ? payload.readUInt16LE(off + 2) : 0;
  return { affectedRows: a.value ?? 0, lastInsertId: id.value ?? 0, status, warnings };
}

/** An ERR packet (PROTOCOL_41): error code, SQLSTATE, message. */
export function errPayload(code: number, sqlState: string, message: string): Buffer {
  const head = Buffer.allocUnsafe(9);
  head[0] = 0xff;
  head.writeUInt16LE(code, 1);
  head[3] = 0x23; // '#'
  head.write(sqlState.padEnd(5, '0').slice(0, 5), 4, 'ascii');
  return Buffer.concat([head, Buffer.from(message, 'utf8')]);
}

export interface ErrInfo {
  code: number;
  sqlState: string;
  message: string;
}

export function parseErr(payload: Buffer): ErrInfo {
  const code = payload.readUInt16LE(1);
  if (payload[3] === 0x23)
    return { code, sqlState: payload.toString('ascii', 4, 9), message: payload.toString('utf8', 9) };
  return { code, sqlState: 'HY000', message: payload.toString('utf8', 3) };
}

/** An EOF packet (before DEPRECATE_EOF): warnings and status. */
export function eofPayload(status: number, warnings = 0): Buffer {
  const b = Buffer.allocUnsafe(5);
  b[0] = 0xfe;
  b.writeUInt16LE(warnings, 1);
  b.writeUInt16LE(status, 3);
  return b;
}

/** Is this payload the EOF/OK that ends a result set (not a row)? MySQL's rule: 0xfe and short. */
export const isResultEnd = (first: number, length: number, deprecateEof: boolean): boolean =>
  first === 0xfe && (deprecateEof ? length < MAX_PACKET : length < 9);

/** Status flags of an EOF packet or of the OK that replaces it. */
export function endStatus(payload: Buffer, deprecateEof: boolean): number {
  if (!deprecateEof && payload.length >= 5) return payload.readUInt16LE(3);
  return parseOk(payload).status;
}

/**
 * Incremental reader of whole logical packets from a byte stream: joins continuation packets
 * (payloads of exactly MAX_PACKET bytes), refuses a logical packet over `maxBytes`.
 */
export class PacketReader {
  private chunks: Buffer[] = [];
  private length = 0;
  private parts: Buffer[] = [];
  private partsLength = 0;
  private firstSeq = 0;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /**
   * The next whole packet, null when more bytes are needed; throws PacketTooLarge. `frame` is the
   * packet as it came (header and payload, one physical packet), so a proxy can forward the
   * client's own bytes without copying them; null for a packet joined from continuations.
   */
  next(): { seq: number; payload: Buffer; frame: Buffer | null } | null {
    for (;;) {
      if (this.length < 4) return null;
      const head = this.peek(4);
      const len = head.readUIntLE(0, 3);
      if (this.length < 4 + len) {
        if (this.partsLength + len > this.maxBytes)
          throw new PacketTooLarge(this.partsLength + len, this.maxBytes, head[3]);
        return null;
      }
      const seq = head[3];
      const frame = this.take(4 + len);
      const payload = frame.subarray(4);
      if (this.parts.length === 0) this.firstSeq = seq;
      if (this.partsLength + len > this.maxBytes)
        throw new PacketTooLarge(this.partsLength + len, this.maxBytes, seq);
      if (len === MAX_PACKET) {
        this.parts.push(payload);
        this.partsLength += len;
        continue;
      }
      if (this.parts.length === 0) return { seq, payload, frame };
      this.parts.push(payload);
      const whole = Buffer.concat(this.parts);
      this.parts = [];
      this.partsLength = 0;
      return { seq: this.firstSeq, payload: whole, frame: null };
    }
  }

  /** Bytes received and not yet taken as a packet (for a hand-over to a relay). */
  drain(): Buffer {
    const all = Buffer.concat(this.chunks);
    this.chunks = [];
    this.length = 0;
    return all;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0].length >= n) return this.chunks[0].subarray(0, n);
    return Buffer.concat(this.chunks).subarray(0, n);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.length -= n;
      return out;
    }
    const all = Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.length -= n;
    return out;
  }
}

export class PacketTooLarge extends Error {
  constructor(
    readonly size: number,
    readonly max: number,
    /** the sequence id of the packet that overflowed: the error answer follows it */
    readonly seq = 0,
  ) {
    super(`packet of ${size} bytes is larger than the DAL's limit of ${max} bytes (max_allowed_packet)`);
  }
}
