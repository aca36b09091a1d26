/**
 * The parameters of a COM_STMT_EXECUTE in the binary protocol: decoded to SQL values so a plan's
 * shard slots can be bound (a shard id or an order id sent as a parameter), and written back as
 * SQL literals when a Global-Zone write is run as text on the master eZone.
 */
import mysql from 'mysql2';
import type { SqlValue } from './sql/index.js';

/** MySQL field types (the binary protocol's parameter types). */
const T = {
  DECIMAL: 0,
  TINY: 1,
  SHORT: 2,
  LONG: 3,
  FLOAT: 4,
  DOUBLE: 5,
  NULL: 6,
  TIMESTAMP: 7,
  LONGLONG: 8,
  INT24: 9,
  DATE: 10,
  TIME: 11,
  DATETIME: 12,
  YEAR: 13,
  NEWDATE: 14,
  VARCHAR: 15,
  BIT: 16,
} as const;

export class ParamError extends Error {}

function lenenc(buf: Buffer, off: number): [number, number] {
  const f = buf[off];
  if (f < 0xfb) return [f, 1];
  if (f === 0xfc) return [buf.readUInt16LE(off + 1), 3];
  if (f === 0xfd) return [buf.readUIntLE(off + 1, 3), 4];
  if (f === 0xfe) return [Number(buf.readBigUInt64LE(off + 1)), 9];
  throw new ParamError('bad length in a parameter');
}

/**
 * Decode the parameters of an execute packet (its payload, command byte first). `types` are the
 * types the previous execute of the statement sent (kept when this one sends none).
 */
export function decodeExecuteParams(
  payload: Buffer,
  count: number,
  previousTypes: number[] | null,
): { statementId: number; flags: number; values: SqlValue[]; types: number[] | null } {
  try {
    return decode(payload, count, previousTypes);
  } catch (err) {
    // a read past the end of a short or garbled packet: the client's error, not the DAL's
    if (err instanceof RangeError) throw new ParamError('the execute packet ends before its parameters do');
    throw err;
  }
}

function decode(
  payload: Buffer,
  count: number,
  previousTypes: number[] | null,
): { statementId: number; flags: number; values: SqlValue[]; types: number[] | null } {
  const statementId = payload.readUInt32LE(1);
  const flags = payload[5];
  if (count === 0) return { statementId, flags, values: [], types: null };
  let off = 10;
  const nullBytes = (count + 7) >> 3;
  const nulls = payload.subarray(off, off + nullBytes);
  off += nullBytes;
  const bound = payload[off];
  off += 1;
  let types = previousTypes;
  if (bound === 1) {
    types = [];
    for (let i = 0; i < count; i++) {
      types.push(payload.readUInt16LE(off));
      off += 2;
    }
  }
  if (!types) throw new ParamError('parameter types were never sent for this statement');
  const values: SqlValue[] = [];
  for (let i = 0; i < count; i++) {
    if (nulls[i >> 3] & (1 << (i & 7))) {
      values.push(null);
      continue;
    }
    const type = types[i] & 0xff;
    const unsigned = (types[i] & 0x8000) !== 0;
    switch (type) {
      case T.TINY:
        values.push(unsigned ? payload.readUInt8(off) : payload.readInt8(off));
        off += 1;
        break;
      case T.SHORT:
      case T.YEAR:
        values.push(unsigned ? payload.readUInt16LE(off) : payload.readInt16LE(off));
        off += 2;
        break;
      case T.LONG:
      case T.INT24:
        values.push(unsigned ? payload.readUInt32LE(off) : payload.readInt32LE(off));
        off += 4;
        break;
      case T.LONGLONG:
        values.push(unsigned ? payload.readBigUInt64LE(off) : payload.readBigInt64LE(off));
        off += 8;
        break;
      case T.FLOAT:
        values.push(payload.readFloatLE(off));
        off += 4;
        break;
      case T.DOUBLE:
        values.push(payload.readDoubleLE(off));
        off += 8;
        break;
      case T.NULL:
        values.push(null);
        break;
      case T.DATE:
      case T.DATETIME:
      case T.TIMESTAMP:
      case T.TIME: {
        const len = payload[off];
        values.push(dateText(type, payload.subarray(off + 1, off + 1 + len)));
        off += 1 + len;
        break;
      }
      default: {
        // strings, decimals, blobs, JSON, enums, bit: length-encoded bytes. Drivers send text as
        // VAR_STRING/STRING/VARCHAR and bytes as a BLOB type (mysql2: Buffer → BLOB)
        const [len, n] = lenenc(payload, off);
        off += n;
        const bytes = payload.subarray(off, off + len);
        off += len;
        const binary = type === T.BIT || (type >= 249 && type <= 252) || type === 255;
        values.push(binary ? new Uint8Array(bytes) : bytes.toString('utf8'));
      }
    }
    if (off > payload.length) throw new ParamError('the parameters end before their values');
  }
  return { statementId, flags, values, types };
}

function dateText(type: number, b: Buffer): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  if (type === T.TIME) {
    if (b.length === 0) return '00:00:00';
    const neg = b[0] === 1;
    const days = b.readUInt32LE(1);
    const h = days * 24 + b[5];
    const us = b.length >= 12 ? b.readUInt32LE(8) : 0;
    return `${neg ? '-' : ''}${p(h)}:${p(b[6])}:${p(b[7])}${us ? `.${p(us, 6)}` : ''}`;
  }
  if (b.length === 0) return '0000-00-00 00:00:00';
  const y = b.readUInt16LE(0);
  const date = `${p(y, 4)}-${p(b[2])}-${p(b[3])}`;
  if (b.length <= 4) return type === T.DATE ? date : `${date} 00:00:00`;
  const us = b.length >= 11 ? b.readUInt32LE(7) : 0;
  return `${date} ${p(b[4])}:${p(b[5])}:${p(b[6])}${us ? `.${p(us, 6)}` : ''}`;
}

/** A value as a SQL literal (mysql2's escaping; integers and bigints unquoted, bytes as hex). */
export function sqlLiteral(v: SqlValue): string {
  if (v === null) return 'NULL';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'NULL';
  if (v instanceof Uint8Array) return `X'${Buffer.from(v).toString('hex')}'`;
  return mysql.escape(v);
}
