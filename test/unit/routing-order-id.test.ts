// Order ids: encode/decode, the shard fast path, the generator.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeOrderId,
  encodeOrderId,
  MAX_ORDER_ID,
  MAX_SEQUENCE,
  ORDER_ID_EPOCH_MS,
  OrderIdGenerator,
  RouteError,
  shardOfOrderId,
} from '../../src/routing/index.js';

const MAX_TS = ORDER_ID_EPOCH_MS + 2 ** 41 - 1;
const fields = fc.record({
  timestampMs: fc.integer({ min: ORDER_ID_EPOCH_MS, max: MAX_TS }),
  shard: fc.integer({ min: 0, max: 1023 }),
  sequence: fc.integer({ min: 0, max: MAX_SEQUENCE }),
});

describe('order id layout (DESIGN §2)', () => {
  it('packs timestamp(41) | shard(10) | sequence(12) from the 2026-01-01 epoch', () => {
    expect(ORDER_ID_EPOCH_MS).toBe(Date.parse('2026-01-01T00:00:00Z'));
    expect(encodeOrderId({ timestampMs: ORDER_ID_EPOCH_MS, shard: 0, sequence: 0 })).toBe('0');
    expect(encodeOrderId({ timestampMs: ORDER_ID_EPOCH_MS + 1, shard: 17, sequence: 5 })).toBe(
      String(2 ** 22 + 17 * 2 ** 12 + 5),
    );
    expect(encodeOrderId({ timestampMs: MAX_TS, shard: 1023, sequence: 4095 })).toBe(MAX_ORDER_ID);
    expect(decodeOrderId(MAX_ORDER_ID)).toEqual({ timestampMs: MAX_TS, shard: 1023, sequence: 4095 });
  });

  it('round-trips arbitrary valid fields, and shardOfOrderId agrees with decode', () => {
    fc.assert(
      fc.property(fields, (f) => {
        const id = encodeOrderId(f);
        expect(decodeOrderId(id)).toEqual(f);
        expect(shardOfOrderId(id)).toBe(f.shard);
      }),
      { numRuns: 20_000 },
    );
  });

  it('shardOfOrderId (no BigInt) equals the BigInt bit extraction for every id below 2^63', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), (v) => {
        expect(shardOfOrderId(v.toString())).toBe(Number((v >> 12n) & 1023n));
      }),
      { numRuns: 50_000 },
    );
    for (const v of [0n, 4095n, 4096n, 2n ** 22n - 1n, 2n ** 22n, 10n ** 9n, 10n ** 18n, 2n ** 63n - 1n])
      expect(shardOfOrderId(v.toString())).toBe(Number((v >> 12n) & 1023n));
  });

  it.each([
    ['', /empty order id/],
    ['12ab', /"12ab" is not a decimal order id/],
    ['-5', /is not a decimal order id/],
    ['1.5', /is not a decimal order id/],
    ['0042', /leading zero/],
    ['9223372036854775808', /not a valid order id \(expected at most 2\^63 - 1/],
    ['18446744073709551615', /not a valid order id/],
    ['18446744073709551616', /out of range \(expected below 2\^64\)/],
    ['123456789012345678901', /is not a decimal order id/],
  ])('decode rejects %j with a RouteError', (id, message) => {
    expect(() => decodeOrderId(id)).toThrow(RouteError);
    expect(() => decodeOrderId(id)).toThrow(message);
    expect(() => shardOfOrderId(id)).toThrow(message);
  });

  it('encode rejects fields outside the layout, naming the field', () => {
    expect(() => encodeOrderId({ timestampMs: ORDER_ID_EPOCH_MS - 1, shard: 0, sequence: 0 })).toThrow(
      /timestampMs/,
    );
    expect(() => encodeOrderId({ timestampMs: MAX_TS + 1, shard: 0, sequence: 0 })).toThrow(/timestampMs/);
    expect(() => encodeOrderId({ timestampMs: ORDER_ID_EPOCH_MS, shard: 1024, sequence: 0 })).toThrow(
      /shard 1024/,
    );
    expect(() => encodeOrderId({ timestampMs: ORDER_ID_EPOCH_MS, shard: 1.5, sequence: 0 })).toThrow(/shard/);
    expect(() => encodeOrderId({ timestampMs: ORDER_ID_EPOCH_MS, shard: 0, sequence: 4096 })).toThrow(
      /sequence/,
    );
  });
});

describe('OrderIdGenerator', () => {
  /** A clock that replays `steps` (ms deltas, may be negative), then stays put plus 1 ms per read. */
  const scriptedClock = (start: number, steps: number[]) => {
    let now = start;
    let i = 0;
    return () => {
      if (i < steps.length) now += steps[i++];
      else now += 1;
      return now;
    };
  };

  it('makes strictly increasing, unique ids carrying its shard, whatever the clock does', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1023 }),
        fc.array(fc.oneof(fc.constant(0), fc.integer({ min: -50, max: 50 })), { maxLength: 3000 }),
        (shard, steps) => {
          const gen = new OrderIdGenerator(shard, scriptedClock(Date.parse('2026-03-01T00:00:00Z'), steps));
          let prev = -1n;
          for (let k = 0; k < steps.length + 5; k++) {
            const id = gen.next();
            const v = BigInt(id);
            expect(v > prev).toBe(true);
            expect(shardOfOrderId(id)).toBe(shard);
            prev = v;
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('issues 4096 ids in one millisecond, then waits for the next', () => {
    const t = Date.parse('2026-06-01T00:00:00Z');
    let reads = 0;
    // the clock stays on t for 5000 reads, then moves on
    const gen = new OrderIdGenerator(3, () => (++reads <= 5000 ? t : t + 1));
    const ids = Array.from({ length: 4097 }, () => decodeOrderId(gen.next()));
    expect(ids[0]).toEqual({ timestampMs: t, shard: 3, sequence: 0 });
    expect(ids[4095]).toEqual({ timestampMs: t, shard: 3, sequence: 4095 });
    expect(ids[4096]).toEqual({ timestampMs: t + 1, shard: 3, sequence: 0 });
    expect(reads).toBeGreaterThan(5000); // it spun on the clock until the millisecond changed
  });

  it('keeps the last timestamp when the clock goes back, and borrows the next ms when that one is full', () => {
    const t = Date.parse('2026-06-01T00:00:00Z');
    let now = t;
    const gen = new OrderIdGenerator(9, () => now);
    expect(decodeOrderId(gen.next()).timestampMs).toBe(t);
    now = t - 10_000; // NTP step back by 10 s
    const afterStep = Array.from({ length: 4096 }, () => decodeOrderId(gen.next()));
    expect(afterStep[0]).toEqual({ timestampMs: t, shard: 9, sequence: 1 });
    expect(afterStep[4094]).toEqual({ timestampMs: t, shard: 9, sequence: 4095 });
    expect(afterStep[4095]).toEqual({ timestampMs: t + 1, shard: 9, sequence: 0 }); // no 10 s wait
  });

  it('rejects a shard outside 0..1023', () => {
    expect(() => new OrderIdGenerator(1024)).toThrow(/shard 1024/);
    expect(() => new OrderIdGenerator(-1)).toThrow(/shard -1/);
  });

  it('uses the real clock by default', () => {
    const before = Date.now();
    const { timestampMs } = decodeOrderId(new OrderIdGenerator(0).next());
    expect(timestampMs).toBeGreaterThanOrEqual(before);
    expect(timestampMs).toBeLessThanOrEqual(Date.now());
  });
});
