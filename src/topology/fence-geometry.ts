// Geometry checks of fences before they reach the fence index: every polygon simple (no self-
// intersection, at least 3 distinct vertices, non-zero area, holes inside their outer ring), and
// no two fences overlapping unless the topology says the lowest feature index wins.
//
// Hand-written on purpose: @turf/kinks takes ~25 ms on fixtures/fences/china.geojson and checks
// rings one at a time; overlap by @turf/intersect (polygon clipping) takes ~900 ms on that file.
// Here one uniform grid over all edges finds every pair of edges that meet, in one pass. It runs on
// every load, mostly before the JIT has warmed up: flat typed arrays, few passes, no closures in loops.

import { quote } from '../util/validation.js';
import type { Fence } from './types.js';

export type FenceOverlap = 'error' | 'first-wins';

/**
 * Distance (degrees, ~0.1 mm) under which a point counts as lying on a line. Orientations are
 * computed in doubles; at |coordinates| <= 180 their rounding error is ~1e-13°, far below this, so
 * every decision outside the band is exact. Inside it, a vertex is "on" the edge: two fences whose
 * edges are that close touch rather than overlap, and the fence index's own rule (an orientation of
 * exactly 0 counts as positive; the lowest feature index wins) decides the points of such a sliver.
 */
export const GEOMETRY_TOLERANCE_DEG = 1e-9;
const TOL = GEOMETRY_TOLERANCE_DEG;

export interface GeometryIssue {
  /** path inside the GeoJSON document */
  path: (string | number)[];
  message: string;
}

/** Where the polygon `polygon` of `fences[fence]` lies in the document (a Polygon has no part index). */
export type PolygonPath = (fence: number, polygon: number) => (string | number)[];

const fmt = (x: number, y: number): string => `[${+x.toFixed(5)}, ${+y.toFixed(5)}]`;

/** Is a lexicographically before b? (issue keys: the lowest one is reported) */
const before = (a: readonly number[], b: readonly number[] | undefined): boolean => {
  if (!b) return true;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i];
  return false;
};

interface Ring {
  /** its vertices (= its edges' starts) are vx/vy[first .. first + count) */
  first: number;
  count: number;
  poly: number;
  /** position in its polygon: 0 outer, > 0 holes */
  local: number;
  /** the polygon's interior lies left of the ring's edges (an outer ring CCW, or a hole CW) */
  interiorLeft: boolean;
}

interface Poly {
  fence: number;
  part: number;
  rings: number[];
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

/**
 * The first problem, or null. Problems of single polygons come first (lowest feature index), then
 * overlaps (lowest pair). With `first-wins` features may overlap; the parts of one MultiPolygon never
 * may (the fence index's crossing parity would count a point covered twice by one fence as outside).
 */
export function checkFenceGeometry(
  fences: readonly Fence[],
  overlap: FenceOverlap,
  polygonPath: PolygonPath,
): GeometryIssue | null {
  return new Checker(fences, overlap, polygonPath).run();
}

const grow = <T extends Int32Array | Float64Array>(a: T, min: number): T => {
  const b = new (a.constructor as new (n: number) => T)(Math.max(min, a.length * 2));
  b.set(a);
  return b;
};

class Checker {
  private readonly rings: Ring[] = [];
  private readonly polys: Poly[] = [];
  /** edges: s goes from (ax, ay)[s] to (bx, by)[s]; ax/ay are also the rings' vertices */
  private n = 0;
  private ax = new Float64Array(0);
  private ay = new Float64Array(0);
  private bx = new Float64Array(0);
  private by = new Float64Array(0);
  private len = new Float64Array(0);
  private segRing = new Int32Array(0);
  private segPoly = new Int32Array(0);
  /** distance along its ring to the start of each edge */
  private cum = new Float64Array(0);
  // contacts between edges of different polygons: on edge cSeg, with polygon cOther, over [cT0, cT1]
  private nc = 0;
  private cSeg = new Int32Array(0);
  private cOther = new Int32Array(0);
  private cT0 = new Float64Array(0);
  private cT1 = new Float64Array(0);
  private selfKey: number[] | undefined;
  private selfIssue: GeometryIssue | null = null;
  private overlapKey: number[] | undefined;
  private overlapIssue: GeometryIssue | null = null;

  constructor(
    private readonly fences: readonly Fence[],
    private readonly overlap: FenceOverlap,
    private readonly polygonPath: PolygonPath,
  ) {}

  run(): GeometryIssue | null {
    const ringIssue = this.collect();
    if (ringIssue) return ringIssue;
    if (this.n === 0) return null;
    this.edges();
    this.pairs();
    if (this.selfIssue) return this.selfIssue;
    const holeIssue = this.holes();
    if (holeIssue) return holeIssue;
    this.boundaryInside();
    return this.overlapIssue;
  }

  private ringPath(r: number): (string | number)[] {
    const p = this.polys[this.rings[r].poly];
    return [...this.polygonPath(p.fence, p.part), this.rings[r].local];
  }

  /** Do the interiors of polygons a and b have to be disjoint? */
  private checked(a: number, b: number): boolean {
    return a !== b && (this.overlap === 'error' || this.polys[a].fence === this.polys[b].fence);
  }

  /**
   * 1. Vertices of every ring (repeated consecutive positions dropped); at least 3 distinct ones, an
   * area, the interior's side, and each polygon's box.
   */
  private collect(): GeometryIssue | null {
    let total = 0;
    for (const fence of this.fences)
      for (const polygon of fence.polygons) for (const ring of polygon) total += ring.length;
    const vx = new Float64Array(total);
    const vy = new Float64Array(total);
    let m = 0;
    for (let f = 0; f < this.fences.length; f++) {
      const polygons = this.fences[f].polygons;
      for (let part = 0; part < polygons.length; part++) {
        const poly: Poly = { fence: f, part, rings: [], minX: 180, minY: 90, maxX: -180, maxY: -90 };
        this.polys.push(poly);
        const polygon = polygons[part];
        for (let local = 0; local < polygon.length; local++) {
          const ring = polygon[local];
          const first = m;
          let area2 = 0;
          let perimeter = 0;
          let distinct = 0;
          let x2 = 0;
          let y2 = 0;
          for (let k = 0; k + 1 < ring.length; k++) {
            const x = ring[k][0];
            const y = ring[k][1];
            if (m > first) {
              const px = vx[m - 1];
              const py = vy[m - 1];
              if (px === x && py === y) continue;
              area2 += px * y - x * py;
              perimeter += Math.abs(x - px) + Math.abs(y - py);
            }
            if (distinct === 0) distinct = 1;
            else if (distinct === 1 && (x !== vx[first] || y !== vy[first])) {
              distinct = 2;
              x2 = x;
              y2 = y;
            } else if (distinct === 2 && (x !== vx[first] || y !== vy[first]) && (x !== x2 || y !== y2))
              distinct = 3;
            vx[m] = x;
            vy[m++] = y;
          }
          // the closing position repeats the first (and so may the ones before it)
          while (m - first > 1 && vx[m - 1] === vx[first] && vy[m - 1] === vy[first]) {
            m--;
            area2 -= vx[m - 1] * vy[m] - vx[m] * vy[m - 1];
          }
          area2 += vx[m - 1] * vy[first] - vx[first] * vy[m - 1];
          const r = this.rings.length;
          poly.rings.push(r);
          this.rings.push({
            first,
            count: m - first,
            poly: this.polys.length - 1,
            local,
            interiorLeft: area2 > 0,
          });
          if (distinct < 3)
            return {
              path: this.ringPath(r),
              message: `ring has fewer than 3 distinct positions (${distinct})`,
            };
          // (a ring of area ~0 that is not on one line crosses itself: step 3 reports it)
          if (Math.abs(area2) <= TOL * perimeter && onOneLine(vx, vy, first, m))
            return {
              path: this.ringPath(r),
              message: 'ring has zero area (all its positions lie on one line)',
            };
          if (local > 0) this.rings[r].interiorLeft = area2 < 0;
          for (let k = first; k < m; k++) {
            if (vx[k] < poly.minX) poly.minX = vx[k];
            if (vx[k] > poly.maxX) poly.maxX = vx[k];
            if (vy[k] < poly.minY) poly.minY = vy[k];
            if (vy[k] > poly.maxY) poly.maxY = vy[k];
          }
        }
      }
    }
    this.n = m;
    this.ax = vx;
    this.ay = vy;
    return null;
  }

  /** 2. Each vertex's edge to the next. */
  private edges(): void {
    const { n, ax, ay } = this;
    const bx = new Float64Array(n);
    const by = new Float64Array(n);
    const len = new Float64Array(n);
    const cum = new Float64Array(n);
    const segRing = new Int32Array(n);
    const segPoly = new Int32Array(n);
    this.bx = bx;
    this.by = by;
    this.len = len;
    this.cum = cum;
    this.segRing = segRing;
    this.segPoly = segPoly;
    for (let r = 0; r < this.rings.length; r++) {
      const { first, count, poly } = this.rings[r];
      const end = first + count;
      let d = 0;
      for (let s = first; s < end; s++) {
        const j = s + 1 === end ? first : s + 1;
        bx[s] = ax[j];
        by[s] = ay[j];
        const ex = ax[j] - ax[s];
        const ey = ay[j] - ay[s];
        len[s] = Math.sqrt(ex * ex + ey * ey);
        cum[s] = d;
        d += len[s];
        segRing[s] = r;
        segPoly[s] = poly;
      }
    }
  }

  /**
   * 3. A uniform grid over the edges (cells about twice the mean edge, at most ~4M of them), then
   * every pair of edges sharing a cell: self-intersections, crossings between polygons, and the
   * contacts (touch points, shared pieces) that step 5 needs.
   */
  private pairs(): void {
    const { n, ax, ay, bx, by, len, segRing } = this;
    let minX = Number.POSITIVE_INFINITY;
    let minY = Number.POSITIVE_INFINITY;
    let maxX = Number.NEGATIVE_INFINITY;
    let maxY = Number.NEGATIVE_INFINITY;
    let total = 0;
    for (let s = 0; s < n; s++) {
      if (ax[s] < minX) minX = ax[s];
      if (ax[s] > maxX) maxX = ax[s];
      if (ay[s] < minY) minY = ay[s];
      if (ay[s] > maxY) maxY = ay[s];
      total += len[s];
    }
    let cell = Math.max((2 * total) / n, Math.max(maxX - minX, maxY - minY) / 2048, 1e-7);
    let cols = 0;
    let rows = 0;
    for (;;) {
      cols = Math.floor((maxX - minX) / cell) + 1;
      rows = Math.floor((maxY - minY) / cell) + 1;
      if (cols * rows <= 4_000_000) break;
      cell *= 2;
    }
    // (cell, edge) as one sortable number: cell * n + edge; the native sort groups each cell's edges
    const c0 = new Int32Array(n);
    const r0 = new Int32Array(n);
    const long = new Uint8Array(n);
    // each edge's box, widened by TOL
    const lox = new Float64Array(n);
    const hix = new Float64Array(n);
    const loy = new Float64Array(n);
    const hiy = new Float64Array(n);
    let keys = new Float64Array(2 * n);
    let nk = 0;
    for (let s = 0; s < n; s++) {
      lox[s] = Math.min(ax[s], bx[s]) - TOL;
      hix[s] = Math.max(ax[s], bx[s]) + TOL;
      loy[s] = Math.min(ay[s], by[s]) - TOL;
      hiy[s] = Math.max(ay[s], by[s]) + TOL;
      const ca = Math.max(0, Math.floor((lox[s] - minX) / cell));
      const cb = Math.min(cols - 1, Math.floor((hix[s] - minX) / cell));
      const ra = Math.max(0, Math.floor((loy[s] - minY) / cell));
      const rb = Math.min(rows - 1, Math.floor((hiy[s] - minY) / cell));
      c0[s] = ca;
      r0[s] = ra;
      const isLong = cb - ca > 1 || rb - ra > 1;
      long[s] = isLong ? 1 : 0;
      const ex = bx[s] - ax[s];
      const ey = by[s] - ay[s];
      for (let r = ra; r <= rb; r++) {
        for (let c = ca; c <= cb; c++) {
          if (isLong) {
            // a long edge keeps only the cells its line passes within TOL of
            const lx = minX + c * cell - TOL - ax[s];
            const hx = lx + cell + 2 * TOL;
            const ly = minY + r * cell - TOL - ay[s];
            const hy = ly + cell + 2 * TOL;
            const o1 = ex * ly - ey * lx;
            const o2 = ex * ly - ey * hx;
            const o3 = ex * hy - ey * lx;
            const o4 = ex * hy - ey * hx;
            if ((o1 > 0 && o2 > 0 && o3 > 0 && o4 > 0) || (o1 < 0 && o2 < 0 && o3 < 0 && o4 < 0)) continue;
          }
          if (nk === keys.length) keys = grow(keys, 1024);
          keys[nk++] = (r * cols + c) * n + s;
        }
      }
    }
    keys = keys.subarray(0, nk).sort();

    let list = new Int32Array(64);
    for (let i = 0; i < nk; ) {
      const id = Math.floor(keys[i] / n);
      let m = 0;
      for (; i < nk && keys[i] < (id + 1) * n; i++) {
        if (m === list.length) list = grow(list, 64);
        list[m++] = keys[i] - id * n;
      }
      if (m < 2) continue;
      const r = Math.floor(id / cols);
      const c = id - r * cols;
      for (let p = 0; p < m; p++) {
        const s = list[p];
        for (let q = p + 1; q < m; q++) {
          const t = list[q];
          // two short edges meet in every cell their ranges share: take the pair in the first one only
          if (!long[s] && !long[t] && (r !== Math.max(r0[s], r0[t]) || c !== Math.max(c0[s], c0[t])))
            continue;
          // consecutive edges a->v, v->b of a ring meet at v: wrong only as a spike, b folding back
          // onto a->v, and then the pair (a->v, b->c) meets at b (a ring of 3 would have no area)
          if (segRing[s] === segRing[t]) {
            const ring = this.rings[segRing[s]];
            const d = s - t;
            if (d === 1 || d === -1 || d === ring.count - 1 || d === 1 - ring.count) continue;
          }
          // boxes apart (the common case): no call
          if (hix[s] < lox[t] || hix[t] < lox[s] || hiy[s] < loy[t] || hiy[t] < loy[s]) continue;
          this.pair(s, t);
        }
      }
    }
  }

  /** signed distance of (px, py) from the line of edge s, as -1, 0 (within TOL) or 1 */
  private side(s: number, px: number, py: number): number {
    const d =
      ((this.bx[s] - this.ax[s]) * (py - this.ay[s]) - (this.by[s] - this.ay[s]) * (px - this.ax[s])) /
      this.len[s];
    return d > TOL ? 1 : d < -TOL ? -1 : 0;
  }

  /** parameter of the projection of (px, py) on edge s: 0 at its start, 1 at its end */
  private param(s: number, px: number, py: number): number {
    const ex = this.bx[s] - this.ax[s];
    const ey = this.by[s] - this.ay[s];
    return ((px - this.ax[s]) * ex + (py - this.ay[s]) * ey) / (this.len[s] * this.len[s]);
  }

  private pair(s: number, t: number): void {
    const { ax, ay, bx, by, len, segRing, segPoly } = this;
    const ps = segPoly[s];
    const pt = segPoly[t];
    const same = ps === pt;
    if (!same && !this.checked(ps, pt)) return;
    if (!same) {
      // fast paths for fences that tile: an edge shared exactly, or one end in common
      const aa = ax[s] === ax[t] && ay[s] === ay[t];
      const ab = ax[s] === bx[t] && ay[s] === by[t];
      const ba = bx[s] === ax[t] && by[s] === ay[t];
      const bb = bx[s] === bx[t] && by[s] === by[t];
      if ((aa && bb) || (ab && ba)) {
        // the same edge: the interiors overlap when they lie on the same side of it
        if (aa === (this.rings[segRing[s]].interiorLeft === this.rings[segRing[t]].interiorLeft))
          this.reportOverlap(ps, pt, (ax[s] + bx[s]) / 2, (ay[s] + by[s]) / 2);
        else {
          this.contact(s, pt, 0, 1);
          this.contact(t, ps, 0, 1);
        }
        return;
      }
      if (aa || ab || ba || bb) {
        // one end in common: a point of contact unless the other ends make the edges overlap
        const sx = aa || ab ? bx[s] : ax[s];
        const sy = aa || ab ? by[s] : ay[s];
        const tx = aa || ba ? bx[t] : ax[t];
        const ty = aa || ba ? by[t] : ay[t];
        if (this.side(s, tx, ty) !== 0 && this.side(t, sx, sy) !== 0) {
          const onS = aa || ab ? 0 : 1;
          const onT = aa || ba ? 0 : 1;
          this.contact(s, pt, onS, onS);
          this.contact(t, ps, onT, onT);
          return;
        }
      }
    }
    const q1 = this.side(s, ax[t], ay[t]);
    const q2 = this.side(s, bx[t], by[t]);
    const p1 = this.side(t, ax[s], ay[s]);
    const p2 = this.side(t, bx[s], by[s]);
    if (q1 * q2 < 0 && p1 * p2 < 0) {
      // a proper crossing
      const d1 = (bx[s] - ax[s]) * (ay[t] - ay[s]) - (by[s] - ay[s]) * (ax[t] - ax[s]);
      const d2 = (bx[s] - ax[s]) * (by[t] - ay[s]) - (by[s] - ay[s]) * (bx[t] - ax[s]);
      const u = d1 / (d1 - d2);
      const x = ax[t] + u * (bx[t] - ax[t]);
      const y = ay[t] + u * (by[t] - ay[t]);
      if (same) this.reportSelf(s, t, x, y);
      else this.reportOverlap(ps, pt, x, y);
      return;
    }
    if ((q1 === 0 && q2 === 0) || (p1 === 0 && p2 === 0)) {
      // on one line: a shared piece, one point in common, or nothing
      const u1 = this.param(s, ax[t], ay[t]);
      const u2 = this.param(s, bx[t], by[t]);
      const lo = Math.max(0, Math.min(u1, u2));
      const hi = Math.min(1, Math.max(u1, u2));
      if ((hi - lo) * len[s] < -TOL) return;
      const mx = ax[s] + ((lo + hi) / 2) * (bx[s] - ax[s]);
      const my = ay[s] + ((lo + hi) / 2) * (by[s] - ay[s]);
      if (same) {
        this.reportSelf(s, t, mx, my);
        return;
      }
      if ((hi - lo) * len[s] > TOL) {
        // a shared piece: the interiors overlap when they lie on the same side of it
        const sameDir = (bx[s] - ax[s]) * (bx[t] - ax[t]) + (by[s] - ay[s]) * (by[t] - ay[t]) > 0;
        if (sameDir === (this.rings[segRing[s]].interiorLeft === this.rings[segRing[t]].interiorLeft)) {
          this.reportOverlap(ps, pt, mx, my);
          return;
        }
      }
      const v1 = clamp01(this.param(t, ax[s] + lo * (bx[s] - ax[s]), ay[s] + lo * (by[s] - ay[s])));
      const v2 = clamp01(this.param(t, ax[s] + hi * (bx[s] - ax[s]), ay[s] + hi * (by[s] - ay[s])));
      this.contact(s, pt, lo, hi);
      this.contact(t, ps, Math.min(v1, v2), Math.max(v1, v2));
      return;
    }
    // touching at a point: an end of one edge on the other
    if (q1 === 0) this.touch(s, t, ax[t], ay[t], 0);
    if (q2 === 0) this.touch(s, t, bx[t], by[t], 1);
    if (p1 === 0) this.touch(t, s, ax[s], ay[s], 0);
    if (p2 === 0) this.touch(t, s, bx[s], by[s], 1);
  }

  /** the end (x, y) of edge `of` (at parameter tOf) lies on the line of edge `on`: on the edge itself? */
  private touch(on: number, of: number, x: number, y: number, tOf: number): void {
    const u = this.param(on, x, y);
    const slack = TOL / this.len[on];
    if (u < -slack || u > 1 + slack) return;
    if (this.segPoly[on] === this.segPoly[of]) {
      this.reportSelf(on, of, x, y);
      return;
    }
    this.contact(on, this.segPoly[of], clamp01(u), clamp01(u));
    this.contact(of, this.segPoly[on], tOf, tOf);
  }

  private contact(s: number, other: number, t0: number, t1: number): void {
    // a point at the very end of an edge is the start of the next one, which records it too
    if (t0 === 1) return;
    if (this.nc === this.cSeg.length) {
      this.cSeg = grow(this.cSeg, 1024);
      this.cOther = grow(this.cOther, 1024);
      this.cT0 = grow(this.cT0, 1024);
      this.cT1 = grow(this.cT1, 1024);
    }
    const i = this.nc++;
    this.cSeg[i] = s;
    this.cOther[i] = other;
    this.cT0[i] = t0;
    this.cT1[i] = t1;
  }

  /** the position of edge s in its ring */
  private k(s: number): number {
    return s - this.rings[this.segRing[s]].first;
  }

  private reportSelf(s: number, t: number, x: number, y: number): void {
    const lo = this.segRing[s] <= this.segRing[t] ? s : t;
    const hi = lo === s ? t : s;
    const rLo = this.segRing[lo];
    const rHi = this.segRing[hi];
    const p = this.polys[this.rings[rLo].poly];
    const key = [p.fence, p.part, this.rings[rHi].local, this.rings[rLo].local];
    if (!before(key, this.selfKey)) return;
    const ks = this.k(s);
    const kt = this.k(t);
    const message =
      rLo === rHi
        ? `ring crosses or touches itself near ${fmt(x, y)} (edges ${Math.min(ks, kt)} and ${Math.max(ks, kt)}); a fence must be a simple polygon`
        : `ring crosses or touches ring [${this.rings[rLo].local}] of the same polygon near ${fmt(x, y)}`;
    this.selfKey = key;
    this.selfIssue = { path: this.ringPath(rHi), message };
  }

  private reportOverlap(pa: number, pb: number, x: number, y: number): void {
    const A0 = this.polys[pa];
    const B0 = this.polys[pb];
    const [A, B] = A0.fence < B0.fence || (A0.fence === B0.fence && A0.part < B0.part) ? [A0, B0] : [B0, A0];
    const key = [A.fence === B.fence ? 0 : 1, A.fence, B.fence, A.part, B.part];
    if (!before(key, this.overlapKey)) return;
    this.overlapKey = key;
    const fa = this.fences[A.fence];
    this.overlapIssue =
      A.fence === B.fence
        ? {
            path: this.polygonPath(B.fence, B.part),
            message: `overlaps coordinates[${A.part}] of the same MultiPolygon near ${fmt(x, y)} (the fence index counts a point covered twice by one fence as outside it)`,
          }
        : {
            path: ['features', this.fences[B.fence].index],
            message: `overlaps features[${fa.index}]${fa.name === undefined ? '' : ` (${quote(fa.name)})`} near ${fmt(x, y)}; fences may share edges but not overlap (or set "fenceOverlap: first-wins" in the topology: the lower feature index wins)`,
          };
  }

  /** 1 when (x, y) is inside ring r, -1 outside, 0 within TOL of one of its edges. */
  private ringSide(r: number, x: number, y: number): number {
    const { ax, ay, bx, by } = this;
    const { first, count } = this.rings[r];
    let odd = false;
    for (let s = first, end = first + count; s < end; s++) {
      const xi = ax[s];
      const yi = ay[s];
      const xj = bx[s];
      const yj = by[s];
      const above = yi > y;
      if (above === yj > y && Math.abs(yi - y) > TOL && Math.abs(yj - y) > TOL) continue; // wholly above or below
      // near the edge's box: measure the distance
      if (x >= Math.min(xi, xj) - TOL && x <= Math.max(xi, xj) + TOL) {
        const ex = xj - xi;
        const ey = yj - yi;
        const u = clamp01(((x - xi) * ex + (y - yi) * ey) / (ex * ex + ey * ey));
        const dx = x - xi - u * ex;
        const dy = y - yi - u * ey;
        if (dx * dx + dy * dy <= TOL * TOL) return 0;
      }
      if (above !== yj > y && x < (xj - xi) * ((y - yi) / (yj - yi)) + xi) odd = !odd;
    }
    return odd ? 1 : -1;
  }

  /** 4. Holes lie inside their outer ring and not inside one another (no two rings touch by now). */
  private holes(): GeometryIssue | null {
    for (const p of this.polys) {
      for (let h = 1; h < p.rings.length; h++) {
        const hole = this.rings[p.rings[h]];
        const x = this.ax[hole.first];
        const y = this.ay[hole.first];
        if (this.ringSide(p.rings[0], x, y) <= 0)
          return { path: this.ringPath(p.rings[h]), message: 'hole is not inside the outer ring [0]' };
        for (let g = 1; g < p.rings.length; g++) {
          if (g !== h && this.ringSide(p.rings[g], x, y) > 0)
            return { path: this.ringPath(p.rings[h]), message: `hole lies inside hole [${g}]` };
        }
      }
    }
    return null;
  }

  /** strictly inside polygon p: inside its outer ring, in no hole, on no edge */
  private inside(p: number, x: number, y: number): boolean {
    let odd = false;
    for (const r of this.polys[p].rings) {
      const side = this.ringSide(r, x, y);
      if (side === 0) return false;
      if (side > 0) odd = !odd;
    }
    return odd;
  }

  /**
   * 5. Interiors can meet without any crossing edge: when part of one polygon's boundary lies inside
   * the other (a fence inside another, a diamond in a square). Between two contacts with the other
   * polygon, a stretch of boundary lies wholly inside or wholly outside it: one point per stretch
   * decides (one vertex per ring when the ring has no contact with it at all).
   */
  private boundaryInside(): void {
    const { cSeg, cOther, cT0, nc, n } = this;
    // contacts by edge (counting sort; edges of a ring are consecutive), each edge's by position
    const cStart = new Int32Array(n + 1);
    for (let c = 0; c < nc; c++) cStart[cSeg[c] + 1]++;
    for (let s = 0; s < n; s++) cStart[s + 1] += cStart[s];
    const order = new Int32Array(nc);
    const fill = cStart.slice(0, n);
    for (let c = 0; c < nc; c++) order[fill[cSeg[c]]++] = c;
    for (let s = 0; s < n; s++) {
      for (let i = cStart[s] + 1; i < cStart[s + 1]; i++) {
        const c = order[i];
        let j = i - 1;
        for (; j >= cStart[s] && cT0[order[j]] > cT0[c]; j--) order[j + 1] = order[j];
        order[j + 1] = c;
      }
    }
    // per ring: the other polygons it touches, each with its contacts in order along the ring
    const touching: { others: number[]; lists: number[][] }[] = this.rings.map((ring) => {
      const others: number[] = [];
      const lists: number[][] = [];
      for (let i = cStart[ring.first]; i < cStart[ring.first + ring.count]; i++) {
        const c = order[i];
        const g = others.indexOf(cOther[c]);
        if (g >= 0) lists[g].push(c);
        else {
          others.push(cOther[c]);
          lists.push([c]);
        }
      }
      return { others, lists };
    });
    // polygon pairs whose boxes meet: a sweep over the boxes' left edges
    const P = this.polys.length;
    const byMinX = Array.from({ length: P }, (_, i) => i).sort(
      (a, b) => this.polys[a].minX - this.polys[b].minX,
    );
    for (let i = 0; i < P; i++) {
      const a = byMinX[i];
      const A = this.polys[a];
      for (let j = i + 1; j < P; j++) {
        const b = byMinX[j];
        const B = this.polys[b];
        if (B.minX > A.maxX + TOL) break;
        if (B.minY > A.maxY + TOL || A.minY > B.maxY + TOL || !this.checked(a, b)) continue;
        this.ringsInside(a, b, touching);
        this.ringsInside(b, a, touching);
      }
    }
  }

  /** Is some point of polygon a's boundary strictly inside polygon b? Reports the overlap. */
  private ringsInside(a: number, b: number, touching: { others: number[]; lists: number[][] }[]): void {
    const { cSeg, cT0, cT1, cum, len } = this;
    for (const r of this.polys[a].rings) {
      const ring = this.rings[r];
      const g = touching[r].others.indexOf(b);
      if (g < 0) {
        // no contact: the ring is wholly inside b or wholly outside; outside when its box is not within b's
        const A = this.polys[a];
        const B = this.polys[b];
        if (A.minX < B.minX || A.maxX > B.maxX || A.minY < B.minY || A.maxY > B.maxY) continue;
        const x = this.ax[ring.first];
        const y = this.ay[ring.first];
        if (this.inside(b, x, y)) this.reportOverlap(a, b, x, y);
        continue;
      }
      // contacts as distances along the ring; the gaps between them are the stretches to test
      const list = touching[r].lists[g];
      const last = ring.first + ring.count - 1;
      const perimeter = cum[last] + len[last];
      let end = cum[cSeg[list[0]]] + cT1[list[0]] * len[cSeg[list[0]]];
      for (let i = 1; i <= list.length; i++) {
        const c = list[i % list.length];
        const to = cum[cSeg[c]] + cT0[c] * len[cSeg[c]] + (i === list.length ? perimeter : 0);
        if (to - end > 4 * TOL && this.testAt(ring, end, to, perimeter, a, b)) break;
        if (i < list.length) end = Math.max(end, cum[cSeg[c]] + cT1[c] * len[cSeg[c]]);
      }
    }
  }

  /**
   * Does the stretch of the ring between distances `from` and `to` (modulo its perimeter; touching
   * polygon b only at its ends) lie inside b? Outside, cheaply, when a vertex of it lies outside b's
   * box; else one point decides. Reports the overlap.
   */
  private testAt(ring: Ring, fromD: number, toD: number, perimeter: number, a: number, b: number): boolean {
    let from = fromD;
    let to = toD;
    const B = this.polys[b];
    const end = ring.first + ring.count;
    const at = (d: number): number => {
      const dist = d >= perimeter ? d - perimeter : d;
      let lo = ring.first;
      let hi = end - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (this.cum[mid] <= dist) lo = mid;
        else hi = mid - 1;
      }
      return lo;
    };
    if (from >= perimeter) {
      from -= perimeter;
      to -= perimeter;
    }
    // the vertices strictly inside the stretch: from the one after `from` on, while before `to`
    let v = at(from) + 1;
    let base = 0;
    for (let guard = 0; guard < ring.count; guard++, v++) {
      if (v === end) {
        v = ring.first;
        base = perimeter;
      }
      if (this.cum[v] + base >= to) break;
      const x = this.ax[v];
      const y = this.ay[v];
      if (x < B.minX - TOL || x > B.maxX + TOL || y < B.minY - TOL || y > B.maxY + TOL) return false;
    }
    const mid = (from + to) / 2;
    const e = at(mid);
    const t = clamp01(((mid >= perimeter ? mid - perimeter : mid) - this.cum[e]) / this.len[e]);
    const x = this.ax[e] + t * (this.bx[e] - this.ax[e]);
    const y = this.ay[e] + t * (this.by[e] - this.ay[e]);
    if (!this.inside(b, x, y)) return false;
    this.reportOverlap(a, b, x, y);
    return true;
  }
}

const clamp01 = (t: number): number => Math.min(1, Math.max(0, t));

/** Do all of vx/vy[from .. to) lie within TOL of the line through the first and the one farthest from it? */
function onOneLine(vx: Float64Array, vy: Float64Array, from: number, to: number): boolean {
  let far = from;
  let best = 0;
  for (let k = from + 1; k < to; k++) {
    const d = (vx[k] - vx[from]) ** 2 + (vy[k] - vy[from]) ** 2;
    if (d > best) {
      best = d;
      far = k;
    }
  }
  const ex = vx[far] - vx[from];
  const ey = vy[far] - vy[from];
  const l = Math.sqrt(best);
  for (let k = from + 1; k < to; k++)
    if (Math.abs(ex * (vy[k] - vy[from]) - ey * (vx[k] - vx[from])) / l > TOL) return false;
  return true;
}
