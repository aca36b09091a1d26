/**
 * Generates fixtures/fences/china.geojson: one fence (= shard) per city, Voronoi cells of ~40 real
 * Chinese cities clipped to a hand-written outline of the country, with boundaries densified and
 * perturbed to the detail of real administrative borders (~250 vertices per fence), and rewrites
 * the GENERATED SHARDS blocks of fixtures/topologies/{two,three}-zones.yaml.
 *
 *   npm run gen:fences            (tsx scripts/gen-fences.ts)
 *
 * Output is deterministic (seeded PRNG). The script verifies what it wrote and exits non-zero when a
 * check fails: rings simple, no two boundary segments cross, fence areas sum to the outline's area,
 * 100k random points inside the outline each fall in exactly one fence, every city in its own fence.
 *
 * How the tiling stays exact: every vertex is defined symbolically (an outline vertex, an outline
 * edge crossing a bisector, or the circumcentre of three cities) and computed once from that
 * definition, so neighbouring cells get bit-identical vertices; every shared edge is densified and
 * perturbed once and reused reversed by the neighbour; coordinates are rounded once per vertex.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Delaunay } from 'd3-delaunay';
import { loadTopology } from '../src/topology/index.js';
import { fixturesDir } from '../src/util/paths.js';
import { seededRandom } from '../src/util/random.js';

type Pt = [number, number]; // [lng, lat], as in GeoJSON
type Zone2 = 'ez-bj' | 'ez-sh';
type Zone3 = 'ez-bj' | 'ez-sh' | 'ez-gz';

interface City {
  name: string;
  lat: number;
  lng: number;
  two: Zone2;
  three: Zone3;
}

const N2 = 'ez-bj' as const;
const S2 = 'ez-sh' as const;
const GZ = 'ez-gz' as const;

/** Fence i = shard i, in this order: never reorder (shard ids are stable), only append. */
const CITIES: City[] = [
  { name: 'Beijing', lat: 39.9042, lng: 116.4074, two: N2, three: N2 },
  { name: 'Shanghai', lat: 31.2304, lng: 121.4737, two: S2, three: S2 },
  { name: 'Guangzhou', lat: 23.1291, lng: 113.2644, two: S2, three: GZ },
  { name: 'Shenzhen', lat: 22.5431, lng: 114.0579, two: S2, three: GZ },
  { name: 'Chengdu', lat: 30.5728, lng: 104.0668, two: S2, three: GZ },
  { name: 'Chongqing', lat: 29.563, lng: 106.5516, two: S2, three: GZ },
  { name: 'Wuhan', lat: 30.5928, lng: 114.3055, two: S2, three: S2 },
  { name: "Xi'an", lat: 34.3416, lng: 108.9398, two: N2, three: N2 },
  { name: 'Hangzhou', lat: 30.2741, lng: 120.1551, two: S2, three: S2 },
  { name: 'Nanjing', lat: 32.0603, lng: 118.7969, two: S2, three: S2 },
  { name: 'Tianjin', lat: 39.3434, lng: 117.3616, two: N2, three: N2 },
  { name: 'Shenyang', lat: 41.8057, lng: 123.4315, two: N2, three: N2 },
  { name: 'Harbin', lat: 45.8038, lng: 126.535, two: N2, three: N2 },
  { name: 'Changchun', lat: 43.8171, lng: 125.3235, two: N2, three: N2 },
  { name: 'Dalian', lat: 38.914, lng: 121.6147, two: N2, three: N2 },
  { name: 'Jinan', lat: 36.6512, lng: 117.1201, two: N2, three: N2 },
  { name: 'Qingdao', lat: 36.0671, lng: 120.3826, two: N2, three: N2 },
  { name: 'Zhengzhou', lat: 34.7466, lng: 113.6254, two: N2, three: N2 },
  { name: 'Taiyuan', lat: 37.8706, lng: 112.5489, two: N2, three: N2 },
  { name: 'Shijiazhuang', lat: 38.0428, lng: 114.5149, two: N2, three: N2 },
  { name: 'Hohhot', lat: 40.8424, lng: 111.749, two: N2, three: N2 },
  { name: 'Lanzhou', lat: 36.0611, lng: 103.8343, two: N2, three: N2 },
  { name: 'Xining', lat: 36.6171, lng: 101.7782, two: N2, three: N2 },
  { name: 'Yinchuan', lat: 38.4872, lng: 106.2309, two: N2, three: N2 },
  { name: 'Urumqi', lat: 43.8256, lng: 87.6168, two: N2, three: N2 },
  { name: 'Lhasa', lat: 29.65, lng: 91.1, two: S2, three: GZ },
  { name: 'Kunming', lat: 25.0389, lng: 102.7183, two: S2, three: GZ },
  { name: 'Guiyang', lat: 26.647, lng: 106.6302, two: S2, three: GZ },
  { name: 'Nanning', lat: 22.817, lng: 108.3665, two: S2, three: GZ },
  { name: 'Haikou', lat: 20.044, lng: 110.1999, two: S2, three: GZ },
  { name: 'Changsha', lat: 28.2282, lng: 112.9388, two: S2, three: GZ },
  { name: 'Nanchang', lat: 28.682, lng: 115.8579, two: S2, three: S2 },
  { name: 'Fuzhou', lat: 26.0745, lng: 119.2965, two: S2, three: S2 },
  { name: 'Xiamen', lat: 24.4798, lng: 118.0894, two: S2, three: S2 },
  { name: 'Hefei', lat: 31.8206, lng: 117.2272, two: S2, three: S2 },
  { name: 'Suzhou', lat: 31.2989, lng: 120.5853, two: S2, three: S2 },
  { name: 'Ningbo', lat: 29.8683, lng: 121.544, two: S2, three: S2 },
  { name: 'Wenzhou', lat: 27.9943, lng: 120.6994, two: S2, three: S2 },
  { name: 'Kashgar', lat: 39.4704, lng: 75.9898, two: N2, three: N2 },
  { name: 'Hami', lat: 42.8184, lng: 93.515, two: N2, three: N2 },
  { name: 'Hailar', lat: 49.2116, lng: 119.7656, two: N2, three: N2 },
  { name: 'Qiqihar', lat: 47.3543, lng: 123.918, two: N2, three: N2 },
];

/**
 * China's outline, roughly, [lng, lat], clockwise from the western tip. Simplified on purpose: the
 * Bohai Strait and the Qiongzhou Strait are bridged so every fence is one connected polygon.
 */
const OUTLINE: Pt[] = [
  [73.5, 39.4],
  [74.9, 40.5],
  [76.8, 40.9],
  [78.6, 41.5],
  [80.2, 42.2],
  [80.3, 44.2],
  [82.6, 45.3],
  [83.0, 46.8],
  [85.5, 47.1],
  [87.0, 49.1],
  [88.8, 48.1],
  [90.1, 47.7],
  [91.3, 45.2],
  [95.3, 44.3],
  [96.4, 42.7],
  [100.8, 42.6],
  [105.0, 41.6],
  [107.5, 42.4],
  [110.4, 42.7],
  [111.9, 43.7],
  [113.6, 44.7],
  [116.7, 46.4],
  [119.9, 46.7],
  [118.0, 47.7],
  [116.7, 49.8],
  [117.8, 49.5],
  [119.2, 50.3],
  [120.2, 51.7],
  [121.5, 53.3],
  [123.5, 53.5],
  [125.6, 53.1],
  [127.3, 50.7],
  [127.6, 49.8],
  [130.6, 48.9],
  [132.5, 47.7],
  [134.7, 48.3],
  [133.1, 45.1],
  [131.8, 45.3],
  [131.0, 44.9],
  [131.3, 43.4],
  [130.6, 42.4],
  [128.9, 42.0],
  [128.1, 41.4],
  [126.0, 40.9],
  [124.4, 40.0],
  [122.5, 39.2],
  [121.2, 38.6],
  [120.8, 37.8],
  [122.6, 37.4],
  [122.2, 36.9],
  [120.8, 36.1],
  [119.3, 34.8],
  [120.3, 34.3],
  [120.9, 32.6],
  [121.9, 31.7],
  [122.0, 30.8],
  [122.2, 29.9],
  [121.5, 28.5],
  [120.4, 26.9],
  [119.5, 25.2],
  [118.2, 24.2],
  [117.2, 23.6],
  [116.5, 22.9],
  [115.3, 22.7],
  [114.3, 22.3],
  [113.6, 22.1],
  [112.5, 21.7],
  [111.2, 21.4],
  [110.5, 20.3],
  [111.0, 19.7],
  [110.5, 18.7],
  [109.5, 18.2],
  [108.7, 18.5],
  [108.6, 19.2],
  [109.2, 19.9],
  [109.7, 20.3],
  [109.7, 21.0],
  [109.1, 21.5],
  [108.0, 21.5],
  [106.7, 22.0],
  [105.5, 23.2],
  [103.95, 22.5],
  [102.3, 22.4],
  [101.6, 21.2],
  [100.1, 21.6],
  [99.2, 22.1],
  [98.9, 23.2],
  [97.7, 24.0],
  [97.5, 25.0],
  [98.7, 27.5],
  [97.5, 28.3],
  [96.1, 29.4],
  [95.4, 29.0],
  [94.0, 28.0],
  [92.0, 27.8],
  [89.5, 28.0],
  [88.0, 27.9],
  [86.0, 28.0],
  [84.0, 28.6],
  [81.3, 30.2],
  [79.2, 31.3],
  [78.7, 32.5],
  [79.5, 34.5],
  [78.0, 35.5],
  [77.0, 35.7],
  [75.5, 36.8],
  [74.5, 37.3],
  [74.8, 38.5],
];

const SEED = 0x2026_0101;
/** Average vertices per fence the densification aims at (the brief asks for >= 200). */
const TARGET_VERTICES = 250;
/** Largest perpendicular displacement, as a fraction of the straight edge's length. */
const AMPLITUDE = 0.08;
/** Coordinates are rounded once, to 1e-6 degrees (~0.1 m). */
const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;

// ---------------------------------------------------------------------------------------------
// Small geometry helpers.

function signedArea(ring: readonly Pt[]): number {
  // Shoelace around the first vertex: keeps the products small (coordinates ~100, areas ~1..100).
  const [ox, oy] = ring[0];
  let s = 0;
  for (let i = 0, n = ring.length; i < n; i++) {
    const [x1, y1] = ring[i];
    const [x2, y2] = ring[(i + 1) % n];
    s += (x1 - ox) * (y2 - oy) - (x2 - ox) * (y1 - oy);
  }
  return s / 2;
}

/** Crossing-number point-in-polygon on one ring (half-open rule, so a point is counted once). */
function inRing(x: number, y: number, ring: readonly Pt[]): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function distToSegment(p: Pt, a: Pt, b: Pt): number {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const t = Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy);
}

const orient = (a: Pt, b: Pt, c: Pt): number => (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
const samePt = (a: Pt, b: Pt): boolean => a[0] === b[0] && a[1] === b[1];
const onSegment = (a: Pt, b: Pt, p: Pt): boolean =>
  Math.min(a[0], b[0]) <= p[0] &&
  p[0] <= Math.max(a[0], b[0]) &&
  Math.min(a[1], b[1]) <= p[1] &&
  p[1] <= Math.max(a[1], b[1]);

/** Closed segments a-b and c-d touch or cross. */
function segmentsTouch(a: Pt, b: Pt, c: Pt, d: Pt): boolean {
  const o1 = Math.sign(orient(a, b, c));
  const o2 = Math.sign(orient(a, b, d));
  const o3 = Math.sign(orient(c, d, a));
  const o4 = Math.sign(orient(c, d, b));
  if (o1 !== o2 && o3 !== o4 && o1 * o2 <= 0 && o3 * o4 <= 0) {
    if (o1 !== 0 || o2 !== 0) return true;
  }
  if (o1 === 0 && onSegment(a, b, c)) return true;
  if (o2 === 0 && onSegment(a, b, d)) return true;
  if (o3 === 0 && onSegment(c, d, a)) return true;
  if (o4 === 0 && onSegment(c, d, b)) return true;
  return false;
}

/**
 * Two segments of a planar boundary conflict when they share no endpoint yet touch, or share one
 * endpoint and overlap beyond it (collinear), or are the same segment.
 */
function segmentsConflict(a: Pt, b: Pt, c: Pt, d: Pt): boolean {
  const shared = [samePt(a, c), samePt(a, d), samePt(b, c), samePt(b, d)].filter(Boolean).length;
  if (shared === 0) return segmentsTouch(a, b, c, d);
  if (shared >= 2) return true;
  // One shared endpoint P; the others Q (on ab) and R (on cd): conflict iff collinear and same direction.
  const p = samePt(a, c) || samePt(a, d) ? a : b;
  const q = p === a ? b : a;
  const r = samePt(c, p) ? d : c;
  return orient(p, q, r) === 0 && (q[0] - p[0]) * (r[0] - p[0]) + (q[1] - p[1]) * (r[1] - p[1]) > 0;
}

interface Seg {
  a: Pt;
  b: Pt;
  minX: number;
  maxX: number;
  minY: number;
  maxY: number;
  tag: number;
}
const seg = (a: Pt, b: Pt, tag: number): Seg => ({
  a,
  b,
  tag,
  minX: Math.min(a[0], b[0]),
  maxX: Math.max(a[0], b[0]),
  minY: Math.min(a[1], b[1]),
  maxY: Math.max(a[1], b[1]),
});

/** Sweep over x; `allowed(s, t)` says a pair may touch (e.g. consecutive segments of one ring). */
function findConflict(segs: Seg[], conflict: (s: Seg, t: Seg) => boolean): [Seg, Seg] | undefined {
  const sorted = [...segs].sort((s, t) => s.minX - t.minX);
  for (let i = 0; i < sorted.length; i++) {
    const s = sorted[i];
    for (let j = i + 1; j < sorted.length && sorted[j].minX <= s.maxX; j++) {
      const t = sorted[j];
      if (t.minY > s.maxY || t.maxY < s.minY) continue;
      if (conflict(s, t)) return [s, t];
    }
  }
  return undefined;
}

/** Same as inRing over a flat [x0, y0, x1, y1, ...] closed ring: the brute-force checks run it ~10^8 times. */
function inFlatRing(x: number, y: number, r: Float64Array): boolean {
  let inside = false;
  for (let i = 0, j = r.length - 2; i < r.length; j = i, i += 2) {
    const yi = r[i + 1];
    const yj = r[j + 1];
    if (yi > y !== yj > y && x < ((r[j] - r[i]) * (y - yi)) / (yj - yi) + r[i]) inside = !inside;
  }
  return inside;
}
const flat = (ring: readonly Pt[]): Float64Array => Float64Array.from(ring.slice(0, -1).flat());

// Seeded PRNG: mulberry32 seeded by FNV-1a of a string, so each edge's shape depends only on its
// own identity (stable when unrelated cities are added).
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

// ---------------------------------------------------------------------------------------------
// 1. The outline (counter-clockwise, as GeoJSON's right-hand rule wants) and sanity of the cities.

const fail = (message: string): never => {
  process.stderr.write(`gen-fences: FAILED: ${message}\n`);
  process.exit(1);
};

const outline: Pt[] = signedArea(OUTLINE) < 0 ? [...OUTLINE].reverse() : [...OUTLINE];
const nO = outline.length;
for (const c of CITIES) {
  const p: Pt = [c.lng, c.lat];
  if (!inRing(p[0], p[1], outline)) fail(`${c.name} is outside the outline`);
  let d = Number.POSITIVE_INFINITY;
  for (let k = 0; k < nO; k++) d = Math.min(d, distToSegment(p, outline[k], outline[(k + 1) % nO]));
  if (d < 0.1)
    fail(`${c.name} is ${d.toFixed(3)}° from the outline (keep >= 0.1° so perturbation cannot cut it off)`);
}

// ---------------------------------------------------------------------------------------------
// 2. Voronoi cells clipped to the outline, with symbolic vertices.
//
// Each cell is the outline clipped by the half-planes "closer to this city than to neighbour j"
// (j ranges over the Delaunay neighbours, which is exactly what bounds a Voronoi cell).
// Sutherland-Hodgman is exact here because every clip region is a half-plane; it would bridge a
// cell that falls apart into pieces with a zero-width spike, which the edge-pairing check below
// rejects. Hand-written rather than a clipping library so that every vertex keeps its symbolic
// identity (which lines define it) and neighbours share bit-identical vertices.

const cx = CITIES.map((c) => c.lng);
const cy = CITIES.map((c) => c.lat);
const delaunay = Delaunay.from(CITIES.map((c): Pt => [c.lng, c.lat]));

/** a*x + b*y = c for line ids `o:k` (outline edge k) and `b:i:j` (bisector of cities i < j). */
function lineCoeffs(id: string): [number, number, number] {
  const parts = id.split(':');
  if (parts[0] === 'o') {
    const k = Number(parts[1]);
    const p = outline[k];
    const q = outline[(k + 1) % nO];
    const a = q[1] - p[1];
    const b = p[0] - q[0];
    return [a, b, a * p[0] + b * p[1]];
  }
  const i = Number(parts[1]);
  const j = Number(parts[2]);
  return [2 * (cx[j] - cx[i]), 2 * (cy[j] - cy[i]), cx[j] ** 2 + cy[j] ** 2 - cx[i] ** 2 - cy[i] ** 2];
}
const bisectorId = (i: number, j: number): string => (i < j ? `b:${i}:${j}` : `b:${j}:${i}`);

const vertexCoords = new Map<string, Pt>();
function circumcentre(i: number, j: number, k: number): Pt {
  const [ax, ay, bx, by, qx, qy] = [cx[i], cy[i], cx[j], cy[j], cx[k], cy[k]];
  const d = 2 * (ax * (by - qy) + bx * (qy - ay) + qx * (ay - by));
  const a2 = ax * ax + ay * ay;
  const b2 = bx * bx + by * by;
  const c2 = qx * qx + qy * qy;
  return [
    (a2 * (by - qy) + b2 * (qy - ay) + c2 * (ay - by)) / d,
    (a2 * (qx - bx) + b2 * (ax - qx) + c2 * (bx - ax)) / d,
  ];
}

/** The vertex where line `edgeLine` meets bisector `clip`: a canonical key, computed once. */
function intersection(edgeLine: string, clip: string): string {
  let key: string;
  let compute: () => Pt;
  if (edgeLine.startsWith('o:')) {
    const k = Number(edgeLine.split(':')[1]);
    key = `x:${k}:${clip.slice(2)}`;
    compute = () => {
      const p = outline[k];
      const q = outline[(k + 1) % nO];
      const [a, b, c] = lineCoeffs(clip);
      const t = (c - a * p[0] - b * p[1]) / (a * (q[0] - p[0]) + b * (q[1] - p[1]));
      return [p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])];
    };
  } else {
    const ids = [...new Set([...edgeLine.split(':').slice(1), ...clip.split(':').slice(1)].map(Number))].sort(
      (a, b) => a - b,
    );
    if (ids.length !== 3) throw new Error(`bisectors ${edgeLine} and ${clip} share no city`);
    key = `t:${ids.join(':')}`;
    compute = () => circumcentre(ids[0], ids[1], ids[2]);
  }
  if (!vertexCoords.has(key)) vertexCoords.set(key, compute());
  return key;
}

interface CellVertex {
  key: string;
  /** the line the edge from this vertex to the next one lies on */
  line: string;
}

for (let k = 0; k < nO; k++) vertexCoords.set(`v:${k}`, outline[k]);
const cells: CellVertex[][] = CITIES.map((_, i) => {
  let poly: CellVertex[] = outline.map((_, k) => ({ key: `v:${k}`, line: `o:${k}` }));
  for (const j of [...delaunay.neighbors(i)].sort((a, b) => a - b)) {
    const clip = bisectorId(i, j);
    const [a, b, c] = lineCoeffs(clip);
    const s = i < j ? 1 : -1; // inside: s * (a x + b y - c) <= 0, i.e. closer to city i
    const side = (v: CellVertex): number => {
      const [x, y] = vertexCoords.get(v.key)!;
      return s * (a * x + b * y - c);
    };
    const out: CellVertex[] = [];
    for (let m = 0; m < poly.length; m++) {
      const cur = poly[m];
      const nxt = poly[(m + 1) % poly.length];
      const curIn = side(cur) <= 0;
      const nxtIn = side(nxt) <= 0;
      if (curIn) out.push(cur);
      if (curIn !== nxtIn) {
        const x = intersection(cur.line, clip);
        out.push(curIn ? { key: x, line: clip } : { key: x, line: cur.line });
      }
    }
    poly = out.filter((v, m) => v.key !== out[(m + 1) % out.length].key);
  }
  if (poly.length < 3) fail(`the cell of ${CITIES[i].name} is empty after clipping`);
  return poly;
});

// Every bisector edge must appear in exactly two cells (once each way), every outline piece in one.
interface Edge {
  id: string;
  line: string;
  from: string;
  to: string;
  cells: number[];
  poly?: Pt[];
}
const edges = new Map<string, Edge>();
cells.forEach((poly, i) => {
  poly.forEach((v, m) => {
    const w = poly[(m + 1) % poly.length];
    const [from, to] = v.key < w.key ? [v.key, w.key] : [w.key, v.key];
    const id = `${v.line}|${from}|${to}`;
    const e = edges.get(id) ?? { id, line: v.line, from, to, cells: [] };
    e.cells.push(i);
    edges.set(id, e);
  });
});
for (const e of edges.values()) {
  const want = e.line.startsWith('b:') ? 2 : 1;
  if (e.cells.length !== want || new Set(e.cells).size !== want)
    fail(
      `edge ${e.id} belongs to cells [${e.cells.map((i) => CITIES[i].name).join(', ')}], expected ${want} distinct ` +
        '(a cell fell apart into pieces: smooth the outline near it)',
    );
}

// Round every vertex once; distinct vertices must stay distinct.
const rounded = new Map<string, Pt>();
const byCoords = new Map<string, string>();
for (const [key, [x, y]] of vertexCoords) {
  const p: Pt = [round6(x), round6(y)];
  rounded.set(key, p);
}
for (const e of edges.values()) {
  for (const key of [e.from, e.to]) {
    const p = rounded.get(key)!;
    const other = byCoords.get(`${p}`);
    if (other !== undefined && other !== key)
      fail(`vertices ${key} and ${other} round to the same point ${p}`);
    byCoords.set(`${p}`, key);
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Densify and perturb each edge once.

const len = (e: Edge): number => {
  const [p, q] = [rounded.get(e.from)!, rounded.get(e.to)!];
  return Math.hypot(q[0] - p[0], q[1] - p[1]);
};
let perimeterSum = 0; // over all cell rings: shared edges count twice, like their vertices
for (const e of edges.values()) perimeterSum += len(e) * e.cells.length;
const step = perimeterSum / (CITIES.length * TARGET_VERTICES);

// Directions of the edges at each node, to taper the perturbation where edges meet at a sharp angle.
const directions = new Map<string, { edge: string; angle: number }[]>();
for (const e of edges.values()) {
  const [p, q] = [rounded.get(e.from)!, rounded.get(e.to)!];
  const add = (node: string, angle: number): void => {
    const list = directions.get(node) ?? [];
    list.push({ edge: e.id, angle });
    directions.set(node, list);
  };
  add(e.from, Math.atan2(q[1] - p[1], q[0] - p[0]));
  add(e.to, Math.atan2(p[1] - q[1], p[0] - q[0]));
}
/** Smallest angle between this edge and any other edge at the node. */
function gapAt(node: string, edgeId: string): number {
  const list = directions.get(node)!;
  const mine = list.find((d) => d.edge === edgeId)!.angle;
  let gap = Math.PI;
  for (const d of list) {
    if (d.edge === edgeId) continue;
    let diff = Math.abs(d.angle - mine) % (2 * Math.PI);
    if (diff > Math.PI) diff = 2 * Math.PI - diff;
    gap = Math.min(gap, diff);
  }
  return gap;
}

/** Smooth fractal noise on [0, 1] in [-1, 1]: value noise, octaves down to the segment scale. */
function fractalNoise(rand: () => number, segments: number): (t: number) => number {
  const octaves: { freq: number; weight: number; values: number[] }[] = [];
  for (let freq = 2, weight = 1; freq / 2 < segments * 2; freq *= 2, weight *= 0.55) {
    octaves.push({ freq, weight, values: Array.from({ length: freq + 1 }, () => rand() * 2 - 1) });
  }
  const total = octaves.reduce((s, o) => s + o.weight, 0);
  return (t) => {
    let v = 0;
    for (const o of octaves) {
      const u = t * o.freq;
      const k = Math.min(Math.floor(u), o.freq - 1);
      const f = u - k;
      const s = f * f * (3 - 2 * f);
      v += o.weight * (o.values[k] * (1 - s) + o.values[k + 1] * s);
    }
    return v / total;
  };
}

for (const e of edges.values()) {
  const p = rounded.get(e.from)!;
  const q = rounded.get(e.to)!;
  const l = len(e);
  const n = Math.max(1, Math.round(l / step));
  const rand = seededRandom(SEED ^ fnv1a(e.id));
  const noise = fractalNoise(rand, n);
  // Near a node the displacement grows no faster than a cone that stays clear of the neighbouring
  // edges' cones: the two cones at a node together stay inside the angle between the edges.
  const slope0 = 0.3 * Math.tan(Math.min(gapAt(e.from, e.id), 2) / 2);
  const slope1 = 0.3 * Math.tan(Math.min(gapAt(e.to, e.id), 2) / 2);
  const nx = -(q[1] - p[1]) / l;
  const ny = (q[0] - p[0]) / l;
  const poly: Pt[] = [p];
  for (let m = 1; m < n; m++) {
    const t = m / n;
    const amp = l * Math.min(AMPLITUDE, slope0 * t, slope1 * (1 - t));
    const d = amp * noise(t);
    // Displacement is perpendicular to the straight edge at increasing t, so the polyline is a
    // graph over the edge's own axis and cannot cross itself.
    poly.push([round6(p[0] + t * (q[0] - p[0]) + d * nx), round6(p[1] + t * (q[1] - p[1]) + d * ny)]);
  }
  poly.push(q);
  e.poly = poly;
}

// ---------------------------------------------------------------------------------------------
// 4. Rings: each cell walks its edges, using the shared polyline forwards or reversed.

function ringOf(poly: CellVertex[]): Pt[] {
  const ring: Pt[] = [];
  poly.forEach((v, m) => {
    const w = poly[(m + 1) % poly.length];
    const [from, to] = v.key < w.key ? [v.key, w.key] : [w.key, v.key];
    const e = edges.get(`${v.line}|${from}|${to}`)!;
    const pts = v.key === e.from ? e.poly! : [...e.poly!].reverse();
    for (let k = 0; k < pts.length - 1; k++) ring.push(pts[k]);
  });
  ring.push(ring[0]);
  return ring;
}
const rings = cells.map(ringOf);

// The perturbed outline: follow the outline pieces from v:0 around.
const outlineFrom = new Map<string, { to: string; pts: Pt[] }>();
cells.forEach((poly) => {
  poly.forEach((v, m) => {
    if (!v.line.startsWith('o:')) return;
    const w = poly[(m + 1) % poly.length];
    const [from, to] = v.key < w.key ? [v.key, w.key] : [w.key, v.key];
    const e = edges.get(`${v.line}|${from}|${to}`)!;
    outlineFrom.set(v.key, { to: w.key, pts: v.key === e.from ? e.poly! : [...e.poly!].reverse() });
  });
});
const outerRing: Pt[] = [];
for (let key = 'v:0', steps = 0; ; steps++) {
  const piece = outlineFrom.get(key);
  if (!piece || steps > outlineFrom.size) fail(`the outline pieces do not form one ring (stuck at ${key})`);
  for (let k = 0; k < piece!.pts.length - 1; k++) outerRing.push(piece!.pts[k]);
  key = piece!.to;
  if (key === 'v:0') break;
}
outerRing.push(outerRing[0]);

// ---------------------------------------------------------------------------------------------
// 5. Serialize, then verify the serialized text parsed back (what will be on disk, rounding and all);
//    the file is written only when every check passes.

const fencesFile = join(fixturesDir(), 'fences', 'china.geojson');
const features = CITIES.map((c, i) => ({
  type: 'Feature',
  properties: { shard: i, name: c.name },
  geometry: { type: 'Polygon', coordinates: [rings[i]] },
}));
const text =
  '{"type":"FeatureCollection","features":[\n' +
  features.map((f) => JSON.stringify(f)).join(',\n') +
  '\n]}\n';

const written = JSON.parse(text) as {
  features: { properties: { shard: number; name: string }; geometry: { coordinates: Pt[][] } }[];
};
const fenceRings = written.features.map((f) => f.geometry.coordinates[0]);
const t0 = performance.now();

// (a) rings: closed, counter-clockwise, simple.
fenceRings.forEach((ring, i) => {
  const name = CITIES[i].name;
  if (!samePt(ring[0], ring[ring.length - 1])) fail(`${name}: ring not closed`);
  if (signedArea(ring.slice(0, -1)) <= 0) fail(`${name}: ring is not counter-clockwise`);
  const n = ring.length - 1;
  const segs = ring.slice(0, -1).map((p, k) => seg(p, ring[k + 1], k));
  const bad = findConflict(segs, (s, t) => {
    const adjacent = Math.abs(s.tag - t.tag) === 1 || Math.abs(s.tag - t.tag) === n - 1;
    return adjacent ? segmentsConflict(s.a, s.b, t.a, t.b) : segmentsTouch(s.a, s.b, t.a, t.b);
  });
  if (bad) fail(`${name}: ring intersects itself near ${bad[0].a} / ${bad[1].a}`);
});

// (b) no two boundary segments of different fences cross (each distinct segment once).
const distinct = new Map<string, Seg>();
fenceRings.forEach((ring) => {
  for (let k = 0; k < ring.length - 1; k++) {
    const [a, b] =
      ring[k][0] < ring[k + 1][0] || (ring[k][0] === ring[k + 1][0] && ring[k][1] < ring[k + 1][1])
        ? [ring[k], ring[k + 1]]
        : [ring[k + 1], ring[k]];
    distinct.set(`${a}|${b}`, seg(a, b, distinct.size));
  }
});
const crossing = findConflict([...distinct.values()], (s, t) => segmentsConflict(s.a, s.b, t.a, t.b));
if (crossing) fail(`boundaries of two fences cross near ${crossing[0].a} / ${crossing[1].a}`);

// (c) areas: the fences cover the outline exactly.
const fenceArea = fenceRings.reduce((s, r) => s + signedArea(r.slice(0, -1)), 0);
const outlineArea = signedArea(outerRing.slice(0, -1));
const areaError = Math.abs(fenceArea - outlineArea) / outlineArea;
if (!(areaError < 1e-9))
  fail(`fence areas sum to ${fenceArea}, outline area ${outlineArea} (relative error ${areaError})`);

// (d) brute force: random points inside the outline are each in exactly one fence; outside in none.
const bboxes = fenceRings.map((r) => {
  const xs = r.map((p) => p[0]);
  const ys = r.map((p) => p[1]);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
});
const flatRings = fenceRings.map(flat);
const flatOuter = flat(outerRing);
const containing = (x: number, y: number): number => {
  let count = 0;
  for (let i = 0; i < flatRings.length; i++) {
    const b = bboxes[i];
    if (x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3] && inFlatRing(x, y, flatRings[i])) count++;
  }
  return count;
};
const xs = outerRing.map((p) => p[0]);
const ys = outerRing.map((p) => p[1]);
const [minX, maxX, minY, maxY] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
const rand = seededRandom(SEED);
let insidePoints = 0;
let outsidePoints = 0;
while (insidePoints < 100_000) {
  const x = minX + rand() * (maxX - minX);
  const y = minY + rand() * (maxY - minY);
  const count = containing(x, y);
  if (inFlatRing(x, y, flatOuter)) {
    insidePoints++;
    if (count !== 1) fail(`point ${x},${y} inside the outline is in ${count} fences`);
  } else {
    outsidePoints++;
    if (count !== 0) fail(`point ${x},${y} outside the outline is in ${count} fences`);
  }
}

// (e) every city lies in its own fence.
CITIES.forEach((c, i) => {
  if (!inRing(c.lng, c.lat, fenceRings[i])) fail(`${c.name} is not inside its own fence`);
});

const vertexCounts = fenceRings.map((r) => r.length - 1);
const avgVertices = vertexCounts.reduce((s, n) => s + n, 0) / vertexCounts.length;
if (avgVertices < 200) fail(`only ${avgVertices.toFixed(1)} vertices per fence on average (want >= 200)`);
const checkMs = performance.now() - t0;

writeFileSync(fencesFile, text);

// ---------------------------------------------------------------------------------------------
// 6. Shard blocks of the topologies, then load both through the real loader.

const shanghai = CITIES.findIndex((c) => c.name === 'Shanghai');
function rewriteTopology(file: string, zoneOf: (c: City) => string): void {
  const path = join(fixturesDir(), 'topologies', file);
  const yaml = readFileSync(path, 'utf8');
  const lines = CITIES.map((c, i) => `  - { id: ${i}, zone: ${zoneOf(c)} } # ${c.name}`);
  const block = `# BEGIN GENERATED SHARDS\nshards:\n${lines.join('\n')}\n# END GENERATED SHARDS`;
  const re = /# BEGIN GENERATED SHARDS\n[\s\S]*?# END GENERATED SHARDS/;
  if (!re.test(yaml)) fail(`${file}: no "# BEGIN GENERATED SHARDS ... # END GENERATED SHARDS" block`);
  // The merchant example routes to Shanghai's shard (docs and tests use it).
  const next = yaml.replace(re, block).replace(/^(\s+m-88123:\s*)\d+/m, `$1${shanghai}`);
  writeFileSync(path, next);
}
rewriteTopology('two-zones.yaml', (c) => c.two);
rewriteTopology('three-zones.yaml', (c) => c.three);
const loaded = ['two-zones.yaml', 'three-zones.yaml'].map((f) => {
  const t = loadTopology(join(fixturesDir(), 'topologies', f));
  const perZone = new Map<string, number>();
  for (const z of t.shards.values()) perZone.set(z, (perZone.get(z) ?? 0) + 1);
  return `${f}: ${[...perZone].map(([z, n]) => `${z}=${n}`).join(' ')}`;
});

process.stdout.write(
  `${JSON.stringify({
    fences: CITIES.length,
    avgVerticesPerFence: Math.round(avgVertices * 10) / 10,
    minVertices: Math.min(...vertexCounts),
    maxVertices: Math.max(...vertexCounts),
    distinctSegments: distinct.size,
    outlineArea: Math.round(outlineArea * 1e6) / 1e6,
    areaRelativeError: areaError,
    pointsInside: insidePoints,
    pointsOutside: outsidePoints,
    checkMs: Math.round(checkMs),
    bytes: Buffer.byteLength(text),
    topologies: loaded,
  })}\n`,
);
