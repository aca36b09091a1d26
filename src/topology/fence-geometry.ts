// Geometry checks of fences before they reach the fence index: every polygon simple (no self-
// intersection, at least 3 distinct vertices, non-zero area, holes inside their outer ring), and
// no two fences overlapping unless the topology says the lowest feature index wins.
//
// Hand-written on purpose: @turf/kinks takes ~25 ms on fixtures/fences/china.geojson and checks
// rings one at a time; overlap by @turf/intersect (polygon clipping) takes ~900 ms on that file.
// Here one uniform grid over all edges finds every pair of edges that meet, in one pass.

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
  xs: Float64Array;
  ys: Float64Array;
  poly: number;
  /** position in its polygon: 0 outer, > 0 holes */
  local: number;
  /** the polygon's interior lies left of the ring's edges (an outer ring CCW, or a hole CW) */
  interiorLeft: boolean;
  /** index of its first edge */
  firstSeg: number;
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

class Checker {
  private readonly rings: Ring[] = [];
  private readonly polys: Poly[] = [];
  // edges, flat
  private n = 0;
  private ax = new Float64Array(0);
  private ay = new Float64Array(0);
  private bx = new Float64Array(0);
  private by = new Float64Array(0);
  private len = new Float64Array(0);
  private segRing = new Int32Array(0);
  private segPoly = new Int32Array(0);
  private segK = new Int32Array(0);
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
    const ringIssue = this.collectRings();
    if (ringIssue) return ringIssue;
    this.collectEdges();
    if (this.n === 0) return null;
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

  /** 1. Rings without repeated consecutive positions; at least 3 distinct ones, and an area. */
  private collectRings(): GeometryIssue | null {
    // plain indexed loops: this runs on every load, mostly before the JIT has warmed up
    for (let f = 0; f < this.fences.length; f++) {
      const polygons = this.fences[f].polygons;
      for (let part = 0; part < polygons.length; part++) {
        const poly: Poly = { fence: f, part, rings: [], minX: 180, minY: 90, maxX: -180, maxY: -90 };
        this.polys.push(poly);
        const polygon = polygons[part];
        for (let local = 0; local < polygon.length; local++) {
          const ring = polygon[local];
          const xs = new Float64Array(ring.length);
          const ys = new Float64Array(ring.length);
          let m = 0;
          for (let k = 0; k + 1 < ring.length; k++) {
            const x = ring[k][0];
            const y = ring[k][1];
            if (m > 0 && xs[m - 1] === x && ys[m - 1] === y) continue;
            xs[m] = x;
            ys[m++] = y;
          }
          while (m > 1 && xs[m - 1] === xs[0] && ys[m - 1] === ys[0]) m--;
          poly.rings.push(this.rings.length);
          this.rings.push({
            xs: xs.subarray(0, m),
            ys: ys.subarray(0, m),
            poly: this.polys.length - 1,
            local,
            interiorLeft: true,
            firstSeg: 0,
          });
        }
      }
    }
    for (let r = 0; r < this.rings.length; r++) {
      const ring = this.rings[r];
      const { xs, ys } = ring;
      const distinct = distinctUpTo3(xs, ys);
      if (distinct < 3)
        return { path: this.ringPath(r), message: `ring has fewer than 3 distinct positions (${distinct})` };
      if (onOneLine(xs, ys))
        return { path: this.ringPath(r), message: 'ring has zero area (all its positions lie on one line)' };
      // (a ring of area ~0 that is not on one line crosses itself: step 3 reports it)
      let area2 = 0;
      for (let k = 0, n = xs.length; k < n; k++) {
        const j = k + 1 === n ? 0 : k + 1;
        area2 += xs[k] * ys[j] - xs[j] * ys[k];
      }
      ring.interiorLeft = ring.local === 0 ? area2 > 0 : area2 < 0;
      const p = this.polys[ring.poly];
      for (let k = 0; k < xs.length; k++) {
        if (xs[k] < p.minX) p.minX = xs[k];
        if (xs[k] > p.maxX) p.maxX = xs[k];
        if (ys[k] < p.minY) p.minY = ys[k];
        if (ys[k] > p.maxY) p.maxY = ys[k];
      }
    }
    return null;
  }

  /** 2. Every edge of every ring, in ring order. */
  private collectEdges(): void {
    let n = 0;
    for (const r of this.rings) n += r.xs.length;
    this.n = n;
    this.ax = new Float64Array(n);
    this.ay = new Float64Array(n);
    this.bx = new Float64Array(n);
    this.by = new Float64Array(n);
    this.len = new Float64Array(n);
    this.segRing = new Int32Array(n);
    this.segPoly = new Int32Array(n);
    this.segK = new Int32Array(n);
    let s = 0;
    this.rings.forEach((ring, r) => {
      ring.firstSeg = s;
      const m = ring.xs.length;
      for (let k = 0; k < m; k++, s++) {
        const j = k + 1 === m ? 0 : k + 1;
        this.ax[s] = ring.xs[k];
        this.ay[s] = ring.ys[k];
        this.bx[s] = ring.xs[j];
        this.by[s] = ring.ys[j];
        const dx = ring.xs[j] - ring.xs[k];
        const dy = ring.ys[j] - ring.ys[k];
        this.len[s] = Math.sqrt(dx * dx + dy * dy);
        this.segRing[s] = r;
        this.segPoly[s] = ring.poly;
        this.segK[s] = k;
      }
    });
    // consecutive edges a->v, v->b share v; they are wrong only as a spike (b folding back onto a->v)
    for (const ring of this.rings) {
      const m = ring.xs.length;
      for (let k = 0; k < m; k++) {
        const e1 = ring.firstSeg + k;
        const e2 = ring.firstSeg + (k + 1 === m ? 0 : k + 1);
        if (
          this.side(e1, this.bx[e2], this.by[e2]) === 0 &&
          this.param(e1, this.bx[e2], this.by[e2]) < 1 - TOL / this.len[e1]
        )
          this.reportSelf(e1, e2, this.ax[e2], this.ay[e2]);
      }
    }
  }

  /**
   * 3. A uniform grid over the edges (cells about twice the mean edge, at most ~4M cells), then
   * every pair of edges sharing a cell: self-intersections, crossings between polygons, and the
   * contacts (touch points, shared pieces) that step 5 needs.
   */
  private pairs(): void {
    const { n, ax, ay, bx, by, len, segRing, segK } = this;
    /** per edge: its ring's edge count - 1 (the first and last edges of a ring are consecutive too) */
    const segLast = new Int32Array(n);
    for (const ring of this.rings)
      segLast.fill(ring.xs.length - 1, ring.firstSeg, ring.firstSeg + ring.xs.length);
    let minX = Number.POSITIVE_INFINITY;
    let minY = Number.POSITIVE_INFINITY;
    let maxX = Number.NEGATIVE_INFINITY;
    let maxY = Number.NEGATIVE_INFINITY;
    let total = 0;
    for (let s = 0; s < n; s++) {
      minX = Math.min(minX, ax[s]);
      maxX = Math.max(maxX, ax[s]);
      minY = Math.min(minY, ay[s]);
      maxY = Math.max(maxY, ay[s]);
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
    const nCells = cols * rows;
    // each edge's cell range; an edge longer than 2 cells keeps only the cells its line passes near
    const cellAt = (v: number, lo: number, count: number): number =>
      Math.min(count - 1, Math.max(0, Math.floor((v - lo) / cell)));
    const c0 = new Int32Array(n);
    const c1 = new Int32Array(n);
    const r0 = new Int32Array(n);
    const r1 = new Int32Array(n);
    const long = new Uint8Array(n);
    for (let s = 0; s < n; s++) {
      c0[s] = cellAt(Math.min(ax[s], bx[s]) - TOL, minX, cols);
      c1[s] = cellAt(Math.max(ax[s], bx[s]) + TOL, minX, cols);
      r0[s] = cellAt(Math.min(ay[s], by[s]) - TOL, minY, rows);
      r1[s] = cellAt(Math.max(ay[s], by[s]) + TOL, minY, rows);
      long[s] = c1[s] - c0[s] > 1 || r1[s] - r0[s] > 1 ? 1 : 0;
    }
    const near = (s: number, c: number, r: number): boolean => {
      if (!long[s]) return true;
      // the cell widened by TOL must not lie wholly on one side of the edge's line
      const ex = bx[s] - ax[s];
      const ey = by[s] - ay[s];
      const lx = minX + c * cell - TOL - ax[s];
      const hx = minX + (c + 1) * cell + TOL - ax[s];
      const ly = minY + r * cell - TOL - ay[s];
      const hy = minY + (r + 1) * cell + TOL - ay[s];
      const o1 = ex * ly - ey * lx;
      const o2 = ex * ly - ey * hx;
      const o3 = ex * hy - ey * lx;
      const o4 = ex * hy - ey * hx;
      return !((o1 > 0 && o2 > 0 && o3 > 0 && o4 > 0) || (o1 < 0 && o2 < 0 && o3 < 0 && o4 < 0));
    };
    const start = new Int32Array(nCells + 1);
    for (let s = 0; s < n; s++)
      for (let r = r0[s]; r <= r1[s]; r++)
        for (let c = c0[s]; c <= c1[s]; c++) if (near(s, c, r)) start[r * cols + c + 1]++;
    for (let i = 0; i < nCells; i++) start[i + 1] += start[i];
    const inCell = new Int32Array(start[nCells]);
    const fill = start.slice(0, nCells);
    for (let s = 0; s < n; s++)
      for (let r = r0[s]; r <= r1[s]; r++)
        for (let c = c0[s]; c <= c1[s]; c++) if (near(s, c, r)) inCell[fill[r * cols + c]++] = s;

    for (let id = 0; id < nCells; id++) {
      const end = start[id + 1];
      const r = Math.floor(id / cols);
      const c = id - r * cols;
      for (let i = start[id]; i < end; i++) {
        const s = inCell[i];
        for (let j = i + 1; j < end; j++) {
          const t = inCell[j];
          // two short edges meet in every cell their ranges share: take the pair in the first one only
          if (!long[s] && !long[t] && (r !== Math.max(r0[s], r0[t]) || c !== Math.max(c0[s], c0[t])))
            continue;
          // consecutive edges of a ring: checked in collectEdges
          if (segRing[s] === segRing[t]) {
            const d = segK[s] - segK[t];
            if (d === 1 || d === -1 || d === segLast[s] || d === -segLast[s]) continue;
          }
          // boxes apart (the common case): no call
          if (
            Math.max(ax[s], bx[s]) + TOL < Math.min(ax[t], bx[t]) ||
            Math.max(ax[t], bx[t]) + TOL < Math.min(ax[s], bx[s]) ||
            Math.max(ay[s], by[s]) + TOL < Math.min(ay[t], by[t]) ||
            Math.max(ay[t], by[t]) + TOL < Math.min(ay[s], by[s])
          )
            continue;
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
          this.contact(s, pt, aa || ab ? 0 : 1, aa || ab ? 0 : 1);
          this.contact(t, ps, aa || ba ? 0 : 1, aa || ba ? 0 : 1);
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
      const grow = <T extends Int32Array | Float64Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(Math.max(1024, a.length * 2));
        b.set(a);
        return b;
      };
      this.cSeg = grow(this.cSeg);
      this.cOther = grow(this.cOther);
      this.cT0 = grow(this.cT0);
      this.cT1 = grow(this.cT1);
    }
    const i = this.nc++;
    this.cSeg[i] = s;
    this.cOther[i] = other;
    this.cT0[i] = t0;
    this.cT1[i] = t1;
  }

  private reportSelf(s: number, t: number, x: number, y: number): void {
    const lo = this.segRing[s] <= this.segRing[t] ? s : t;
    const hi = lo === s ? t : s;
    const rLo = this.segRing[lo];
    const rHi = this.segRing[hi];
    const p = this.polys[this.rings[rLo].poly];
    const key = [p.fence, p.part, this.rings[rHi].local, this.rings[rLo].local];
    if (!before(key, this.selfKey)) return;
    const message =
      rLo === rHi
        ? `ring crosses or touches itself near ${fmt(x, y)} (edges ${Math.min(this.segK[s], this.segK[t])} and ${Math.max(this.segK[s], this.segK[t])}); a fence must be a simple polygon`
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
            message: `overlaps features[${fa.index}]${fa.name === undefined ? '' : ` (${JSON.stringify(fa.name)})`} near ${fmt(x, y)}; fences may share edges but not overlap (or set "fenceOverlap: first-wins" in the topology: the lower feature index wins)`,
          };
  }

  /** 4. Holes lie inside their outer ring and not inside one another (no two rings touch by now). */
  private holes(): GeometryIssue | null {
    for (const p of this.polys) {
      for (let h = 1; h < p.rings.length; h++) {
        const hole = this.rings[p.rings[h]];
        if (ringSide(this.rings[p.rings[0]], hole.xs[0], hole.ys[0]) <= 0)
          return { path: this.ringPath(p.rings[h]), message: 'hole is not inside the outer ring [0]' };
        for (let g = 1; g < p.rings.length; g++) {
          if (g !== h && ringSide(this.rings[p.rings[g]], hole.xs[0], hole.ys[0]) > 0)
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
      const side = ringSide(this.rings[r], x, y);
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
    const { cSeg, cOther, cT0, cT1, len } = this;
    // contacts by edge (counting sort), each edge's sorted by position along it
    const nc = this.nc;
    const cStart = new Int32Array(this.n + 1);
    for (let c = 0; c < nc; c++) cStart[cSeg[c] + 1]++;
    for (let s = 0; s < this.n; s++) cStart[s + 1] += cStart[s];
    const order = new Int32Array(nc);
    const fill = cStart.slice(0, this.n);
    for (let c = 0; c < nc; c++) order[fill[cSeg[c]]++] = c;
    for (let s = 0; s < this.n; s++) {
      for (let i = cStart[s] + 1; i < cStart[s + 1]; i++) {
        const c = order[i];
        let j = i - 1;
        for (; j >= cStart[s] && cT0[order[j]] > cT0[c]; j--) order[j + 1] = order[j];
        order[j + 1] = c;
      }
    }
    // per (ring, other polygon): its contacts in order along the ring (edges of a ring are consecutive)
    const P = this.polys.length;
    const groups = new Map<number, number[]>();
    for (let i = 0; i < nc; i++) {
      const c = order[i];
      const key = this.segRing[cSeg[c]] * P + cOther[c];
      const list = groups.get(key);
      if (list) list.push(c);
      else groups.set(key, [c]);
    }
    // distance along each ring to the start of each edge
    const cum = new Float64Array(this.n);
    this.cum = cum;
    for (const ring of this.rings) {
      let d = 0;
      for (let k = 0; k < ring.xs.length; k++) {
        cum[ring.firstSeg + k] = d;
        d += len[ring.firstSeg + k];
      }
    }
    const perimeter = (r: number): number => {
      const ring = this.rings[r];
      const last = ring.firstSeg + ring.xs.length - 1;
      return cum[last] + len[last];
    };

    for (let a = 0; a < P; a++) {
      const A = this.polys[a];
      for (let b = 0; b < P; b++) {
        if (!this.checked(a, b)) continue;
        const B = this.polys[b];
        if (A.maxX + TOL < B.minX || B.maxX + TOL < A.minX || A.maxY + TOL < B.minY || B.maxY + TOL < A.minY)
          continue;
        for (const r of A.rings) {
          const ring = this.rings[r];
          const list = groups.get(r * P + b);
          if (!list) {
            if (this.inside(b, ring.xs[0], ring.ys[0])) this.reportOverlap(a, b, ring.xs[0], ring.ys[0]);
            continue;
          }
          // contacts as distances along the ring; the gaps between them are the stretches to test
          const total = perimeter(r);
          const at = (c: number, t: number): number => cum[cSeg[c]] + t * len[cSeg[c]];
          let end = at(list[0], cT1[list[0]]);
          for (let i = 1; i <= list.length; i++) {
            const from = end;
            const to = i < list.length ? at(list[i], cT0[list[i]]) : at(list[0], cT0[list[0]]) + total;
            if (to - from > 4 * TOL && this.testAt(r, b, (from + to) / 2, total, a)) break;
            if (i < list.length) end = Math.max(end, at(list[i], cT1[list[i]]));
          }
        }
      }
    }
  }

  /** Is the point at distance d along ring r (modulo its perimeter) inside polygon b? Reports the overlap. */
  private testAt(r: number, b: number, d: number, total: number, a: number): boolean {
    const ring = this.rings[r];
    const dist = d >= total ? d - total : d;
    // the edge holding that distance: binary search over the ring's edges
    let lo = 0;
    let hi = ring.xs.length - 1;
    const first = ring.firstSeg;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.cum[first + mid] <= dist) lo = mid;
      else hi = mid - 1;
    }
    const s = first + lo;
    const t = clamp01((dist - this.cum[s]) / this.len[s]);
    const x = this.ax[s] + t * (this.bx[s] - this.ax[s]);
    const y = this.ay[s] + t * (this.by[s] - this.ay[s]);
    if (!this.inside(b, x, y)) return false;
    this.reportOverlap(a, b, x, y);
    return true;
  }
}

const clamp01 = (t: number): number => Math.min(1, Math.max(0, t));

/** 1, 2 or 3: how many distinct positions the ring has, counting no further than 3. */
function distinctUpTo3(xs: Float64Array, ys: Float64Array): number {
  let count = 1;
  let x2 = 0;
  let y2 = 0;
  for (let k = 1; k < xs.length; k++) {
    if (xs[k] === xs[0] && ys[k] === ys[0]) continue;
    if (count === 1) {
      x2 = xs[k];
      y2 = ys[k];
      count = 2;
    } else if (xs[k] !== x2 || ys[k] !== y2) return 3;
  }
  return count;
}

/** Do all positions lie within TOL of the line through the first and the one farthest from it? */
function onOneLine(xs: Float64Array, ys: Float64Array): boolean {
  let far = 0;
  let best = 0;
  for (let k = 1; k < xs.length; k++) {
    const d = (xs[k] - xs[0]) ** 2 + (ys[k] - ys[0]) ** 2;
    if (d > best) {
      best = d;
      far = k;
    }
  }
  const ex = xs[far] - xs[0];
  const ey = ys[far] - ys[0];
  const l = Math.sqrt(best);
  for (let k = 1; k < xs.length; k++)
    if (Math.abs(ex * (ys[k] - ys[0]) - ey * (xs[k] - xs[0])) / l > TOL) return false;
  return true;
}

/** 1 when (x, y) is inside the ring, -1 outside, 0 within TOL of one of its edges. */
function ringSide(ring: { xs: Float64Array; ys: Float64Array }, x: number, y: number): number {
  const { xs, ys } = ring;
  const n = xs.length;
  let odd = false;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const xi = xs[i];
    const yi = ys[i];
    const xj = xs[j];
    const yj = ys[j];
    // near the edge's box: measure the distance (rare, so the square root does not matter)
    if (
      x >= Math.min(xi, xj) - TOL &&
      x <= Math.max(xi, xj) + TOL &&
      y >= Math.min(yi, yj) - TOL &&
      y <= Math.max(yi, yj) + TOL
    ) {
      const ex = xi - xj;
      const ey = yi - yj;
      const l2 = ex * ex + ey * ey;
      const u = Math.min(1, Math.max(0, ((x - xj) * ex + (y - yj) * ey) / l2));
      if (Math.hypot(x - xj - u * ex, y - yj - u * ey) <= TOL) return 0;
    }
    if (yi > y !== yj > y && x < (xj - xi) * ((y - yi) / (yj - yi)) + xi) odd = !odd;
  }
  return odd ? 1 : -1;
}
