// Routing tags: parsing, formatting, malformed input (fuzzed).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatRouteTag, parseRouteTag, RouteError, routeTagFrom } from '../../src/routing/index.js';

/** The RouteError a function throws (fails the test when it throws nothing or something else). */
function routeError(fn: () => unknown): RouteError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RouteError);
    return err as RouteError;
  }
  throw new Error('expected a RouteError, nothing was thrown');
}

describe('parseRouteTag (DESIGN §3)', () => {
  it('parses each key', () => {
    expect(parseRouteTag('geo=31.2304,121.4737')).toEqual({ geo: { lat: 31.2304, lng: 121.4737 } });
    expect(parseRouteTag('order=7290412234567680001')).toEqual({ order: '7290412234567680001' });
    expect(parseRouteTag('shard=17')).toEqual({ shard: 17 });
    expect(parseRouteTag('merchant=m-88123')).toEqual({ merchant: 'm-88123' });
    expect(parseRouteTag('rider=r_1.a:b')).toEqual({ rider: 'r_1.a:b' });
    expect(parseRouteTag('user=u-1;geo=39.90,116.40')).toEqual({
      user: 'u-1',
      geo: { lat: 39.9, lng: 116.4 },
    });
  });

  it('tolerates whitespace and one trailing ";"', () => {
    expect(parseRouteTag('  user = u-1 ;\tgeo = -33.5 , +151.25 ; ')).toEqual({
      user: 'u-1',
      geo: { lat: -33.5, lng: 151.25 },
    });
    expect(parseRouteTag('shard=0;')).toEqual({ shard: 0 });
    expect(parseRouteTag('geo=90,-180')).toEqual({ geo: { lat: 90, lng: -180 } });
  });

  it.each([
    ['', /^empty routing tag \(expected key=value pairs separated by ";"/],
    ['   ', /^empty routing tag/],
    [';', /^empty routing tag|empty pair #1/],
    ['shard=1;;geo=1,1', /^empty pair #2 in "shard=1;;geo=1,1"/],
    ['zone=ez-bj', /^unknown key "zone" \(expected one of shard, order, merchant, rider, user, geo\)$/],
    ['Geo=1,1', /^unknown key "Geo"/],
    ['geo', /^"geo" is not key=value/],
    ['shard=1;shard=2', /^duplicate key "shard"/],
    ['geo=', /^geo: empty value/],
    ['geo=95,1', /^geo: latitude 95 out of range \(expected -90\.\.90\)$/],
    ['geo=1,181', /^geo: longitude 181 out of range \(expected -180\.\.180\)$/],
    ['geo=31.2', /^geo: "31.2" is not lat,lng/],
    ['geo=1,2,3', /^geo: "1,2,3" is not lat,lng/],
    ['geo=1e1,2', /^geo: latitude "1e1" is not a decimal number of degrees/],
    ['geo=NaN,2', /^geo: latitude "NaN" is not a decimal number/],
    ['geo=1,Infinity', /^geo: longitude "Infinity" is not a decimal number/],
    ['shard=1024', /^shard: 1024 out of range \(expected an integer 0\.\.1023\)$/],
    ['shard=-1', /^shard: "-1" is not a shard id/],
    ['shard=1.0', /^shard: "1.0" is not a shard id/],
    ['order=12ab', /^order: "12ab" is not a decimal order id \(expected digits only/],
    ['order=0012', /^order: "0012" has a leading zero/],
    ['order=99999999999999999999', /^order: 99999999999999999999 is out of range \(expected below 2\^64\)$/],
    ['order=9223372036854775808', /^order: 9223372036854775808 is not a valid order id/],
    ['merchant=m 1', /^merchant: "m 1" is not a merchant id \(expected 1-64 of \[A-Za-z0-9_.:-\]\)$/],
    [`user=${'u'.repeat(65)}`, /^user: "u{48}…" is not a user id/],
    ['rider=r/1', /^rider: "r\/1" is not a rider id/],
    [`geo=1,1;${' '.repeat(1020)}`, /^routing tag is 1028 characters long \(expected at most 1024\)$/],
  ])('rejects %j', (text, message) => {
    const err = routeError(() => parseRouteTag(text));
    expect(err.code).toBe('EZ_BAD_ROUTE');
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('\n');
  });

  it('never throws anything but a RouteError, on arbitrary strings', () => {
    const pieces = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constantFrom(
        'shard',
        'order',
        'merchant',
        'rider',
        'user',
        'geo',
        '=',
        ';',
        ',',
        ' ',
        '.',
        '-',
        '9',
        'e',
      ),
      fc.double().map(String),
      fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
    );
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 30 }), (parts) => {
        const text = parts.join('');
        try {
          const tag = parseRouteTag(text);
          // whatever parses formats back to a tag that parses to the same thing
          expect(parseRouteTag(formatRouteTag(tag))).toEqual(tag);
        } catch (err) {
          if (!(err instanceof RouteError)) throw err;
          // a usable refusal: the stable code, exit 2, one line that says what was expected
          expect(err.code).toBe('EZ_BAD_ROUTE');
          expect(err.exitCode).toBe(2);
          expect(err.message).not.toMatch(/\n/);
          expect(err.message).toMatch(/expected/);
        }
      }),
      { numRuns: 20_000 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 1200 }), (text) => {
        try {
          parseRouteTag(text);
        } catch (err) {
          if (!(err instanceof RouteError)) throw err;
        }
      }),
      { numRuns: 5_000 },
    );
  });

  it('formats degrees as plain decimals the parser accepts', () => {
    expect(formatRouteTag({ geo: { lat: 1e-7, lng: -120 } })).toBe('geo=0.0000001,-120');
    expect(formatRouteTag({ shard: 3, geo: { lat: 31.2304, lng: 121.4737 }, user: 'u-1' })).toBe(
      'shard=3;user=u-1;geo=31.2304,121.4737',
    );
    expect(parseRouteTag(formatRouteTag({ geo: { lat: 1e-7, lng: 4e-10 } }))).toEqual({
      geo: { lat: 1e-7, lng: 0 },
    });
  });

  it('round-trips well-formed tags through formatRouteTag', () => {
    const tagArb = fc.record(
      {
        shard: fc.integer({ min: 0, max: 1023 }),
        order: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }).map(String),
        merchant: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,64}$/),
        rider: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,64}$/),
        user: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,64}$/),
        geo: fc.record({
          lat: fc.integer({ min: -90_000_000, max: 90_000_000 }).map((n) => n / 1e6),
          lng: fc.integer({ min: -180_000_000, max: 180_000_000 }).map((n) => n / 1e6),
        }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(tagArb, (tag) => {
        if (Object.keys(tag).length === 0) return;
        expect(parseRouteTag(formatRouteTag(tag))).toEqual(tag);
      }),
      { numRuns: 5_000 },
    );
  });
});

describe('routeTagFrom: header, then cookie, then query', () => {
  const enc = encodeURIComponent;

  it('takes the header first, then the ez_route cookie, then the ez_route query parameter', () => {
    const header = 'shard=1';
    const cookie = `a=b; ez_route=${enc('shard=2;geo=1,1')}; c=d`;
    const query = `?x=1&ez_route=${enc('shard=3')}`;
    expect(routeTagFrom({ header, cookie, query })).toMatchObject({ source: 'header', tag: { shard: 1 } });
    expect(routeTagFrom({ cookie, query })).toMatchObject({
      source: 'cookie',
      tag: { shard: 2, geo: { lat: 1, lng: 1 } },
    });
    expect(routeTagFrom({ cookie: 'a=b', query })).toMatchObject({ source: 'query', tag: { shard: 3 } });
    expect(routeTagFrom({ query: new URLSearchParams({ ez_route: 'geo=31.2304,121.4737' }) })).toMatchObject({
      source: 'query',
      tag: { geo: { lat: 31.2304, lng: 121.4737 } },
    });
    expect(routeTagFrom({ header: ['merchant=m-1'] })).toMatchObject({ tag: { merchant: 'm-1' } });
    expect(routeTagFrom({ cookie: 'ez_route="user%3Du-7"' })).toMatchObject({ tag: { user: 'u-7' } });
  });

  it('uses the first form present even when it is malformed, and names the form in the error', () => {
    expect(routeError(() => routeTagFrom({ header: 'geo=99,1', cookie: 'ez_route=shard%3D1' })).message).toBe(
      'geo: latitude 99 out of range (expected -90..90)',
    );
    expect(
      routeError(() => routeTagFrom({ cookie: 'ez_route=zone%3D1', query: 'ez_route=shard%3D1' })).message,
    ).toBe('cookie ez_route: unknown key "zone" (expected one of shard, order, merchant, rider, user, geo)');
    expect(routeError(() => routeTagFrom({ cookie: 'ez_route=%E0%A4%A' })).message).toMatch(
      /^cookie ez_route: bad URL encoding/,
    );
    expect(routeError(() => routeTagFrom({ query: 'ez_route=shard%3D5000' })).message).toBe(
      'query ez_route: shard: 5000 out of range (expected an integer 0..1023)',
    );
    expect(routeError(() => routeTagFrom({ query: 'ez_route=shard%3D1&ez_route=shard%3D2' })).message).toBe(
      '2 ez_route query parameters (expected one)',
    );
    expect(routeError(() => routeTagFrom({ header: ['shard=1', 'shard=2'] })).message).toBe(
      '2 X-Ez-Route header values (expected one)',
    );
  });

  it('says what it expected when there is no tag at all', () => {
    expect(routeError(() => routeTagFrom({})).message).toBe(
      'no routing tag (expected an X-Ez-Route header, an ez_route cookie or an ez_route query parameter)',
    );
    expect(routeError(() => routeTagFrom({ cookie: 'a=1', query: 'b=2', header: null })).code).toBe(
      'EZ_BAD_ROUTE',
    );
  });

  it('never throws anything but a RouteError on arbitrary cookies and query strings', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.string({ unit: 'binary', maxLength: 200 }),
        (c, q) => {
          for (const sources of [
            { cookie: `ez_route=${c}` },
            { query: `ez_route=${q}` },
            { cookie: c, query: q },
          ]) {
            try {
              routeTagFrom(sources);
            } catch (err) {
              if (!(err instanceof RouteError)) throw err;
            }
          }
        },
      ),
      { numRuns: 5_000 },
    );
  });
});
