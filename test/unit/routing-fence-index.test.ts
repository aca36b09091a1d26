// The fence index against brute force on real and random fences.
import { booleanPointInPolygon } from '@turf/boolean-point-in-polygon';
import fc from 'fast-check';
import type { Feature, MultiPolygon, Polygon } from 'geojson';
import { beforeAll, describe, expect, it } from 'vitest';
import { FenceIndex } from '../../src/routing/index.js';
import { loadTopology } from '../../src/topology/index.js';
import type { Fence, Position } from '../../src/topology/types.js';

/** The brute-force answer: the first fence (in order) that contains the point, by turf. */
function bruteForce(fences: readonly Fence[]) {
  const features: Feature<Polygon | MultiPolygon>[] = fences.map((f) => {
    const all = f.polygons.flatMap((p) => p[0]);
    return {
      type: 'Feature',
      properties: {},
      bbox: [
        Math.min(...all.map((q) => q[0])),
        Math.min(...all.map((q) => q[1])),
        Math.max(...all.map((q) => q[0])),
        Math.max(...all.map((q) => q[1])),
      ],
      geometry:
        f.polygons.length === 1
          ? { type: 'Polygon', coordinates: f.polygons[0] }
          : { type: 'MultiPolygon', coordinates: f.polygons },
    };
  });
  return {
    fenceAt(lat: number, lng: number): number {
      for (let i = 0; i < features.length; i++) if (booleanPointInPolygon([lng, lat], features[i])) return i;
      return -1;
    },
    /** fences whose closed polygon (boundary included) contains the point */
    allAt(lat: number, lng: number): number[] {
      return features.flatMap((f, i) => (booleanPointInPolygon([lng, lat], f) ? [i] : []));
    },
    /** the point lies exactly on some fence's boundary (turf decides it with exact comparisons) */
    onBoundary(lat: number, lng: number): boolean {
      return features.some(
        (f) =>
          booleanPointInPolygon([lng, lat], f) !==
          booleanPointInPolygon([lng, lat], f, { ignoreBoundary: true }),
      );
    },
  };
}

/**
 * Index answer = brute force, except within 1e-9° of a boundary (a point 5e-324 below an edge at
 * y = 0 is on it, as far as doubles go): there any answer found within 1e-9° will do.
 */
function expectSameAnswer(
  index: FenceIndex,
  brute: ReturnType<typeof bruteForce>,
  lat: number,
  lng: number,
): void {
  const got = index.fenceAt(lat, lng);
  const want = brute.fenceAt(lat, lng);
  if (got === want) return;
  const around = [
    [1e-9, 0],
    [-1e-9, 0],
    [0, 1e-9],
    [0, -1e-9],
  ].map(([dy, dx]) => brute.fenceAt(lat + dy, lng + dx));
  const nearBoundary = brute.onBoundary(lat, lng) || around.some((f) => f !== want);
  expect(nearBoundary, `index ${got}, brute force ${want} at lat=${lat} lng=${lng}`).toBe(true);
  expect([...brute.allAt(lat, lng), ...around]).toContain(got);
}

/** Every edge of every fence, as [a, b] pairs. */
const edgesOf = (fences: readonly Fence[]): [Position, Position][] =>
  fences.flatMap((f) =>
    f.polygons.flatMap((p) =>
      p.flatMap((ring) => ring.slice(0, -1).map((a, k): [Position, Position] => [a, ring[k + 1]])),
    ),
  );

describe('FenceIndex on the committed fences (fixtures/fences/china.geojson)', () => {
  let fences: Fence[];
  let index: FenceIndex;
  let brute: ReturnType<typeof bruteForce>;
  let edges: [Position, Position][];
  let bbox: [number, number, number, number];

  beforeAll(() => {
    fences = loadTopology().fences;
    index = FenceIndex.build(fences);
    brute = bruteForce(fences);
    edges = edgesOf(fences);
    const xs = edges.map((e) => e[0][0]);
    const ys = edges.map((e) => e[0][1]);
    bbox = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
  });

  it('has detailed fences and says what it built', () => {
    const avg = edges.length / fences.length;
    expect(fences.length).toBeGreaterThanOrEqual(40);
    expect(avg).toBeGreaterThanOrEqual(200);
    const s = index.stats;
    expect(s.fences).toBe(fences.length);
    expect(s.vertices).toBe(edges.length);
    expect(s.cells).toBe(s.cols * s.rows);
    expect(s.boundaryCells).toBeGreaterThan(1000);
    expect(s.boundaryCells).toBeLessThan(s.cells);
    expect(s.avgEdgesPerBoundaryCell).toBeGreaterThan(1);
    expect(s.approxBytes).toBeGreaterThan(s.cells * 4);
    // the build time it reports is the build's own: more than nothing, less than a build timed outside
    const t0 = performance.now();
    const again = FenceIndex.build(fences);
    const outside = performance.now() - t0;
    expect(again.stats.buildMs).toBeGreaterThan(0);
    expect(again.stats.buildMs).toBeLessThanOrEqual(outside);
  });

  it('equals brute force on 100k uniform points of the bounding box (inside and outside the outline)', () => {
    const [x0, y0, x1, y1] = bbox;
    let outside = 0;
    fc.assert(
      fc.property(
        fc.double({ min: y0 - 1, max: y1 + 1, noNaN: true }),
        fc.double({ min: x0 - 1, max: x1 + 1, noNaN: true }),
        (lat, lng) => {
          const want = brute.fenceAt(lat, lng);
          if (want < 0) outside++;
          expect(index.fenceAt(lat, lng)).toBe(want);
          expect(index.lookup(lat, lng)).toBe(want < 0 ? -1 : fences[want].shard);
        },
      ),
      { numRuns: 100_000 },
    );
    expect(outside).toBeGreaterThan(10_000); // the property did see points outside every fence
  });

  it('equals brute force 1e-7° either side of random edges', () => {
    fc.assert(
      fc.property(
        fc.nat(),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.constantFrom(-1e-7, 1e-7),
        fc.constantFrom('normal', 'diagonal'),
        (k, t, nudge, how) => {
          const [a, b] = edges[k % edges.length];
          const dx = b[0] - a[0];
          const dy = b[1] - a[1];
          const len = Math.hypot(dx, dy);
          const [nx, ny] = how === 'normal' ? [-dy / len, dx / len] : [Math.SQRT1_2, Math.SQRT1_2];
          const lng = a[0] + t * dx + nudge * nx;
          const lat = a[1] + t * dy + nudge * ny;
          expect(index.fenceAt(lat, lng)).toBe(brute.fenceAt(lat, lng));
        },
      ),
      { numRuns: 100_000 },
    );
  });

  it('puts a point on an edge or vertex into one of the fences that touch it', () => {
    // On an edge the answer depends on rounding (a + t(b - a) is within ~1e-14 of the line), so the
    // candidates are the fences containing the point or a point 1e-9° away in any direction.
    const near = (lat: number, lng: number): { fences: Set<number>; outside: boolean } => {
      const fences = new Set<number>();
      let outside = false;
      for (const [dy, dx] of [
        [0, 0],
        [1e-9, 0],
        [-1e-9, 0],
        [0, 1e-9],
        [0, -1e-9],
      ]) {
        const all = brute.allAt(lat + dy, lng + dx);
        if (all.length === 0) outside = true;
        for (const f of all) fences.add(f);
      }
      return { fences, outside };
    };
    fc.assert(
      fc.property(fc.nat(), fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, noNaN: true })), (k, t) => {
        const [a, b] = edges[k % edges.length];
        const lng = t === 0 ? a[0] : a[0] + t * (b[0] - a[0]);
        const lat = t === 0 ? a[1] : a[1] + t * (b[1] - a[1]);
        const got = index.fenceAt(lat, lng);
        const { fences: candidates, outside } = near(lat, lng);
        if (got === -1)
          expect(outside).toBe(true); // only on the country's outline
        else expect(candidates.has(got)).toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });

  it('routes every city of the generator into its own fence, and far-away points nowhere', () => {
    for (const f of fences) {
      const [name, lat, lng] =
        f.name === 'Beijing'
          ? ['Beijing', 39.9042, 116.4074]
          : f.name === 'Shanghai'
            ? ['Shanghai', 31.2304, 121.4737]
            : [];
      if (name) expect(index.fence(index.fenceAt(lat as number, lng as number)).name).toBe(name);
    }
    for (const [lat, lng] of [
      [0, 0],
      [90, 180],
      [-90, -180],
      [35.68, 139.69], // Tokyo
      [Number.NaN, 100],
      [30, Number.POSITIVE_INFINITY],
    ])
      expect(index.lookup(lat, lng)).toBe(-1);
  });
});

// --- synthetic fences: holes, MultiPolygons, overlaps, edges on grid lines -------------------

const ring = (pts: [number, number][]): Position[] => [...pts, pts[0]] as Position[];
const square = (x: number, y: number, w: number, h = w): Position[] =>
  ring([
    [x, y],
    [x + w, y],
    [x + w, y + h],
    [x, y + h],
  ]);
const fence = (index: number, shard: number, ...polygons: Position[][][]): Fence => ({
  index,
  shard,
  polygons,
});

const SYNTHETIC: Fence[] = [
  // a square with a square hole, the hole holding another fence
  fence(0, 10, [square(0, 0, 4), square(1, 1, 2).reverse()]),
  fence(1, 11, [square(1, 1, 2)]),
  // a MultiPolygon: two islands
  fence(2, 12, [square(5, 0, 1)], [square(7, 0, 1)]),
  // overlaps fence 2's second island: the first fence wins where both contain the point
  fence(3, 13, [square(7.5, 0.5, 1)]),
  // a thin diagonal sliver and a triangle with vertices exactly on grid lines
  fence(4, 14, [
    ring([
      [0, 5],
      [4, 9],
      [4, 9.01],
    ]),
  ]),
  fence(5, 15, [
    ring([
      [5, 5],
      [9, 5],
      [5, 9],
    ]),
  ]),
  // a fence much smaller than one grid cell
  fence(6, 16, [square(8.3, 8.3, 0.001)]),
];

describe('FenceIndex on synthetic fences', () => {
  const brute = bruteForce(SYNTHETIC);

  it.each([0.01, 0.05, 0.1, 0.25, 1, 3])('equals brute force with %s° cells', (cell) => {
    const index = FenceIndex.build(SYNTHETIC, { cellSizeDeg: cell });
    fc.assert(
      fc.property(
        fc.double({ min: -1, max: 10, noNaN: true }),
        fc.double({ min: -1, max: 10, noNaN: true }),
        (lat, lng) => expectSameAnswer(index, brute, lat, lng),
      ),
      { numRuns: 20_000 },
    );
    // and on a regular lattice (offsets chosen so that no lattice point lies on a fence edge)
    for (let lat = -0.96; lat < 10; lat += 0.1)
      for (let lng = -0.93; lng < 10; lng += 0.1)
        expect(index.fenceAt(lat, lng)).toBe(brute.fenceAt(lat, lng));
  });

  it('answers holes, islands, overlaps and tiny fences', () => {
    const index = FenceIndex.build(SYNTHETIC);
    expect(index.lookup(0.5, 0.5)).toBe(10); // ring of fence 0
    expect(index.lookup(2, 2)).toBe(11); // in the hole: fence 1
    expect(index.lookup(0.5, 5.5)).toBe(12); // first island
    expect(index.lookup(0.5, 7.2)).toBe(12); // second island
    expect(index.lookup(0.7, 7.7)).toBe(12); // overlap: fence 2 comes first
    expect(index.lookup(1.2, 8.2)).toBe(13); // fence 3 only
    expect(index.lookup(8.3005, 8.3005)).toBe(16);
    expect(index.lookup(8.302, 8.302)).toBe(-1);
    expect(index.lookup(0.5, 6.5)).toBe(-1); // between the islands
  });

  it('handles no fences and rejects absurd cell sizes', () => {
    expect(FenceIndex.build([]).lookup(1, 1)).toBe(-1);
    expect(() => FenceIndex.build(SYNTHETIC, { cellSizeDeg: 0 })).toThrow(/cellSizeDeg 0/);
    expect(() => FenceIndex.build(SYNTHETIC, { cellSizeDeg: 0.00001 })).toThrow(/too many/);
  });

  it('equals brute force on random tilings (jittered grids of cells with shared edges)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.double({ min: -0.3, max: 0.3, noNaN: true }), { minLength: 72, maxLength: 72 }),
        fc.constantFrom(0.05, 0.1, 0.5),
        fc.array(
          fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })),
          {
            minLength: 300,
            maxLength: 300,
          },
        ),
        (nx, ny, jitter, cell, points) => {
          // vertex (i, j) of an (nx+1) x (ny+1) lattice, jittered (not on the border), shared by the cells
          const v = (i: number, j: number): Position => {
            const inner = i > 0 && i < nx && j > 0 && j < ny;
            const k = (j * (nx + 1) + i) * 2;
            return [i + (inner ? jitter[k % 72] : 0), j + (inner ? jitter[(k + 1) % 72] : 0)];
          };
          const tiles: Fence[] = [];
          for (let j = 0; j < ny; j++)
            for (let i = 0; i < nx; i++)
              tiles.push(
                fence(tiles.length, tiles.length, [
                  [v(i, j), v(i + 1, j), v(i + 1, j + 1), v(i, j + 1), v(i, j)],
                ]),
              );
          const index = FenceIndex.build(tiles, { cellSizeDeg: cell });
          const b = bruteForce(tiles);
          for (const [px, py] of points) {
            const lng = px * (nx + 0.4) - 0.2;
            const lat = py * (ny + 0.4) - 0.2;
            expectSameAnswer(index, b, lat, lng);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
