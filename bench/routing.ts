/**
 * Geo routing benchmark: lookups/s through FenceIndex vs the naive way (every fence in turn with
 * @turf/boolean-point-in-polygon until one contains the point), side by side in one run, on the
 * committed fences of the default topology. Prints one JSON line.
 *
 *   npm run bench:routing [-- --points 1000000 --naive 20000 --cell 0.05 --topology FILE]
 *
 * Both run on random points inside the country (inside some fence). The naive scan is ~100x
 * slower, so it runs on a subset (the first --naive of those points) and is reported per second.
 * Correctness: the index must give the naive answer on that subset and on as many uniform points
 * of the bounding box (inside or outside), else the benchmark fails (exit 1).
 */

import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { booleanPointInPolygon } from '@turf/boolean-point-in-polygon';
// GeoJSON types come with @turf/boolean-point-in-polygon (its dependency @types/geojson).
import type { Feature, MultiPolygon, Polygon } from 'geojson';
import { DEFAULT_CELL_DEG, FenceIndex } from '../src/routing/fence-index.js';
import { encodeOrderId, ORDER_ID_EPOCH_MS, Resolver, shardOfOrderId } from '../src/routing/index.js';
import { loadTopology } from '../src/topology/index.js';
import { seededRandom } from '../src/util/random.js';

const { values } = parseArgs({
  options: {
    points: { type: 'string', default: '1000000' },
    naive: { type: 'string', default: '20000' },
    cell: { type: 'string', default: String(DEFAULT_CELL_DEG) },
    rounds: { type: 'string', default: '5' },
    topology: { type: 'string' },
    seed: { type: 'string', default: '42' },
  },
});
const POINTS = Number(values.points);
const NAIVE = Math.min(Number(values.naive), POINTS);
const ROUNDS = Number(values.rounds);

// A real GC before and after the build, so the heap delta measures the index, not garbage.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const topology = loadTopology(values.topology);
const fences = topology.fences;
const vertices = fences.reduce(
  (s, f) => s + f.polygons.reduce((p, rings) => p + rings.reduce((r, ring) => r + ring.length - 1, 0), 0),
  0,
);

gc();
const memBefore = process.memoryUsage();
const index = FenceIndex.build(fences, { cellSizeDeg: Number(values.cell) });
gc();
const memAfter = process.memoryUsage();
// typed arrays live outside the JS heap, in ArrayBuffer backing stores: report both
const heapDelta = memAfter.heapUsed - memBefore.heapUsed;
const arrayBuffersDelta = memAfter.arrayBuffers - memBefore.arrayBuffers;

// Points: uniform over the fences' bounding box. `mixed` (inside or outside) only checks answers;
// `pts` keeps the candidates inside some fence until there are POINTS of them.
let minX = Number.POSITIVE_INFINITY;
let minY = Number.POSITIVE_INFINITY;
let maxX = Number.NEGATIVE_INFINITY;
let maxY = Number.NEGATIVE_INFINITY;
for (const f of fences)
  for (const rings of f.polygons)
    for (const [x, y] of rings[0]) {
      minX = Math.min(minX, x);
      maxX = Math.max(maxX, x);
      minY = Math.min(minY, y);
      maxY = Math.max(maxY, y);
    }
const rand = seededRandom(Number(values.seed));
const mixed = new Float64Array(NAIVE * 2);
for (let i = 0; i < NAIVE; i++) {
  mixed[2 * i] = minY + rand() * (maxY - minY);
  mixed[2 * i + 1] = minX + rand() * (maxX - minX);
}
const pts = new Float64Array(POINTS * 2);
for (let n = 0; n < POINTS; ) {
  const lat = minY + rand() * (maxY - minY);
  const lng = minX + rand() * (maxX - minX);
  if (index.lookup(lat, lng) < 0) continue;
  pts[2 * n] = lat;
  pts[2 * n + 1] = lng;
  n++;
}

// Naive: turf on each fence in order; bbox set on each feature so turf can skip far fences
// quickly (the fairest version of the naive scan).
const features: Feature<Polygon | MultiPolygon>[] = fences.map((f) => {
  const xs = f.polygons.flatMap((p) => p[0].map((q) => q[0]));
  const ys = f.polygons.flatMap((p) => p[0].map((q) => q[1]));
  const geometry: Polygon | MultiPolygon =
    f.polygons.length === 1
      ? { type: 'Polygon', coordinates: f.polygons[0] }
      : { type: 'MultiPolygon', coordinates: f.polygons };
  return {
    type: 'Feature',
    properties: {},
    bbox: [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)],
    geometry,
  };
});
const naiveLookup = (lat: number, lng: number): number => {
  for (let f = 0; f < features.length; f++)
    if (booleanPointInPolygon([lng, lat], features[f])) return fences[f].shard;
  return -1;
};

function indexedRound(): number {
  let sum = 0;
  const t0 = performance.now();
  for (let i = 0; i < POINTS; i++) sum += index.lookup(pts[2 * i], pts[2 * i + 1]);
  const ms = performance.now() - t0;
  if (sum < 0) throw new Error('unreachable: keeps the loop from being optimised away');
  return (POINTS / ms) * 1000;
}

// Warm-up (JIT) then the median of ROUNDS rounds.
indexedRound();
indexedRound();
const rates = Array.from({ length: ROUNDS }, indexedRound).sort((a, b) => a - b);
const indexedPerSec = rates[Math.floor(rates.length / 2)];

for (let i = 0; i < Math.min(1000, NAIVE); i++) naiveLookup(pts[2 * i], pts[2 * i + 1]);
const naiveAnswers = new Int32Array(NAIVE);
const tn = performance.now();
for (let i = 0; i < NAIVE; i++) naiveAnswers[i] = naiveLookup(pts[2 * i], pts[2 * i + 1]);
const naivePerSec = (NAIVE / (performance.now() - tn)) * 1000;

let mismatches = 0;
let compared = 0;
const check = (lat: number, lng: number, want: number): void => {
  compared++;
  const got = index.lookup(lat, lng);
  if (got === want) return;
  if (mismatches++ < 5)
    process.stderr.write(`bench:routing: MISMATCH at lat=${lat} lng=${lng}: index ${got}, naive ${want}\n`);
};
for (let i = 0; i < NAIVE; i++) check(pts[2 * i], pts[2 * i + 1], naiveAnswers[i]);
let mixedOutside = 0;
for (let i = 0; i < NAIVE; i++) {
  const want = naiveLookup(mixed[2 * i], mixed[2 * i + 1]);
  if (want < 0) mixedOutside++;
  check(mixed[2 * i], mixed[2 * i + 1], want);
}

/** Median rate (per second) of `fn` over `n` items, after a warm-up. */
function rate(n: number, fn: () => number): number {
  fn();
  const rs = Array.from({ length: ROUNDS }, () => {
    const t0 = performance.now();
    if (fn() === Number.MIN_SAFE_INTEGER) throw new Error('unreachable');
    return (n / (performance.now() - t0)) * 1000;
  }).sort((a, b) => a - b);
  return rs[Math.floor(rs.length / 2)];
}

// The order-id hot path: shard extraction without BigInt (what the code does) vs with BigInt.
const ORDERS = 200_000;
const ids = Array.from({ length: ORDERS }, () =>
  encodeOrderId({
    timestampMs: ORDER_ID_EPOCH_MS + Math.floor(rand() * 2 ** 40),
    shard: Math.floor(rand() * 1024),
    sequence: Math.floor(rand() * 4096),
  }),
);
const orderShardPerSec = rate(ORDERS, () => {
  let sum = 0;
  for (let i = 0; i < ORDERS; i++) sum += shardOfOrderId(ids[i]);
  return sum;
});
const orderShardBigIntPerSec = rate(ORDERS, () => {
  let sum = 0;
  for (let i = 0; i < ORDERS; i++) sum += Number((BigInt(ids[i]) >> 12n) & 1023n);
  return sum;
});

// The whole path APIRouter runs per request: parse an X-Ez-Route geo tag, resolve it.
const router = Resolver.fromTopology(topology);
const TAGS = 200_000;
const tags = Array.from(
  { length: TAGS },
  (_, i) => `geo=${pts[2 * i].toFixed(6)},${pts[2 * i + 1].toFixed(6)}`,
);
const routeTagsPerSec = rate(TAGS, () => {
  let sum = 0;
  for (let i = 0; i < TAGS; i++) sum += router.route(tags[i]).shard;
  return sum;
});

const round = (x: number, d = 0): number => Math.round(x * 10 ** d) / 10 ** d;
process.stdout.write(
  `${JSON.stringify({
    indexedPerSec: round(indexedPerSec),
    naivePerSec: round(naivePerSec),
    ratio: round(indexedPerSec / naivePerSec, 1),
    points: POINTS,
    naivePoints: NAIVE,
    naiveNote:
      'naive = turf booleanPointInPolygon over the fences in order (bbox pre-check), timed on the first naivePoints points, rate per second',
    compared,
    comparedOutside: mixedOutside,
    mismatches,
    fences: fences.length,
    avgVerticesPerFence: round(vertices / fences.length, 1),
    indexBuildMs: round(index.stats.buildMs, 1),
    indexBytes: index.stats.approxBytes,
    heapDeltaBytes: heapDelta,
    arrayBuffersDeltaBytes: arrayBuffersDelta,
    cellSizeDeg: index.stats.cellSizeDeg,
    cells: index.stats.cells,
    boundaryCells: index.stats.boundaryCells,
    avgEdgesPerBoundaryCell: round(index.stats.avgEdgesPerBoundaryCell, 2),
    indexedRoundsPerSec: rates.map((r) => round(r)),
    orderShardPerSec: round(orderShardPerSec),
    orderShardBigIntPerSec: round(orderShardBigIntPerSec),
    routeTagsPerSec: round(routeTagsPerSec),
  })}\n`,
);
if (mismatches > 0) {
  process.stderr.write(
    `bench:routing: FAILED: ${mismatches} of ${compared} index answers differ from the naive scan\n`,
  );
  process.exitCode = 1;
}
