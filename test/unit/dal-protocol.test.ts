// The DAL's wire pieces, pure: packet framing (continuations, the size limit, the raw frame),
// execute-packet parameters (types as drivers send them), and garbage that must stay a ParamError.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeExecuteParams, ParamError, sqlLiteral } from '../../src/dal/params.js';
import { PacketReader, PacketTooLarge, packet } from '../../src/dal/protocol/packets.js';

/** An execute payload: command, statement id, flags, iteration count, null bitmap, types, values. */
function execute(params: { type: number; value: Buffer | null }[], sendTypes = true): Buffer {
  const nulls = Buffer.alloc((params.length + 7) >> 3);
  params.forEach((p, i) => {
    if (p.value === null) nulls[i >> 3] |= 1 << (i & 7);
  });
  const head = Buffer.from([0x17, 7, 0, 0, 0, 0, 1, 0, 0, 0]);
  const types = Buffer.alloc(params.length * 2);
  params.forEach((p, i) => {
    types.writeUInt16LE(p.type, i * 2);
  });
  const values = params.filter((p) => p.value !== null).map((p) => p.value as Buffer);
  return Buffer.concat([
    head,
    nulls,
    Buffer.from([sendTypes ? 1 : 0]),
    sendTypes ? types : Buffer.alloc(0),
    ...values,
  ]);
}
const lenencStr = (s: string | Buffer) => {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s);
  return Buffer.concat([Buffer.from([b.length]), b]);
};
const u64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
};

describe('execute parameters', () => {
  it('decodes what mysql2 sends: strings as VAR_STRING, Buffers as BLOB, numbers, NULL', () => {
    const p = execute([
      { type: 253, value: lenencStr('54720567705669633') },
      { type: 252, value: lenencStr(Buffer.from([1, 2, 3])) },
      { type: 8 | 0x8000, value: u64(17n) },
      { type: 6, value: null },
      { type: 254, value: lenencStr('é') },
    ]);
    const d = decodeExecuteParams(p, 5, null);
    expect(d.statementId).toBe(7);
    expect(d.values[0]).toBe('54720567705669633');
    expect(d.values[1]).toEqual(new Uint8Array([1, 2, 3]));
    expect(d.values[2]).toBe(17n);
    expect(d.values[3]).toBeNull();
    expect(d.values[4]).toBe('é');
    expect(d.types).toHaveLength(5);
  });

  it('uses the types of the previous execute when this one sends none; none ever sent is an error', () => {
    const first = decodeExecuteParams(execute([{ type: 253, value: lenencStr('a') }]), 1, null);
    const again = decodeExecuteParams(execute([{ type: 253, value: lenencStr('b') }], false), 1, first.types);
    expect(again.values).toEqual(['b']);
    expect(() =>
      decodeExecuteParams(execute([{ type: 253, value: lenencStr('b') }], false), 1, null),
    ).toThrow(ParamError);
  });

  it('a short or garbled packet is a ParamError, never another exception', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 64 }),
        fc.integer({ min: 1, max: 6 }),
        (bytes, n) => {
          const payload = Buffer.concat([Buffer.from([0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0]), Buffer.from(bytes)]);
          try {
            decodeExecuteParams(payload, n, null);
          } catch (err) {
            expect(err).toBeInstanceOf(ParamError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('writes values back as SQL literals (a prepared Global-Zone write run as text)', () => {
    expect(sqlLiteral("it's")).toBe("'it\\'s'");
    expect(sqlLiteral(null)).toBe('NULL');
    expect(sqlLiteral(17n)).toBe('17');
    expect(sqlLiteral(new Uint8Array([0xab]))).toBe("X'ab'");
  });
});

describe('packet reader', () => {
  it('gives whole packets with their raw frame, across chunk boundaries', () => {
    const r = new PacketReader(1 << 20);
    const a = packet(0, Buffer.from('\x03SELECT 1'));
    const b = packet(0, Buffer.from('\x0e'));
    const both = Buffer.concat([a, b]);
    r.push(both.subarray(0, 5));
    expect(r.next()).toBeNull();
    r.push(both.subarray(5));
    const p1 = r.next()!;
    expect(p1.payload.toString()).toBe('\x03SELECT 1');
    expect(p1.frame!.equals(a)).toBe(true);
    expect(r.next()!.payload.equals(Buffer.from('\x0e'))).toBe(true);
    expect(r.next()).toBeNull();
  });

  it('joins continuation packets (payloads of 2^24-1 bytes) and refuses a logical packet over the limit', () => {
    const big = Buffer.alloc(0xffffff + 10, 0x61);
    const framed = packet(0, big);
    const r = new PacketReader(32 << 20);
    r.push(framed);
    const p = r.next()!;
    expect(p.payload.length).toBe(big.length);
    expect(p.frame).toBeNull();
    const small = new PacketReader(1 << 20);
    small.push(framed.subarray(0, 4));
    expect(() => small.next()).toThrow(PacketTooLarge);
  });
});
