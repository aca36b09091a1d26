// Point → fence lookup for the routing hot path: a grid whose boundary cells keep only their edges.
import type { Fence } from '../topology/index.js';

/**
 * Point → fence lookup for the routing hot path (DESIGN §1, §3).
 *
 * A plain lat/lng grid over the fences' bounding box. A cell that no fence edge touches lies wholly
 * inside one fence (or outside all) and answers from one Int32Array read. A boundary cell keeps
 * only the edges that cross it, grouped by fence, plus a reference point inside the cell whose
 * membership in each of those fences is known; a query walks the segment reference → query point
 * and flips a fence's membership at every crossing of that fence's edges (crossing parity). The
 * segment never leaves the cell, so the few edges stored with the cell are all it can cross.
 *
 * Why hand-written: the libraries on npm either test whole polygons (turf, point-in-polygon:
 * ~38k lookups/s on 40 fences of 260 vertices) or go through H3 (0.4-0.7M/s here, see ENVIRONMENT.md);
 * this layout answers in tens of nanoseconds.
 *
 * Degenerate cases are decided by one rule everywhere (a value of exactly 0 counts as positive,
 * a symbolic perturbation in the spirit of simulation of simplicity), and every edge is stored in
 * one canonical direction, so the two fences that share an edge always agree on whether the segment
 * crosses it: in a tiling every point is in exactly one fence, even points exactly on an edge.
 * Overlapping fences (which the topology loader refuses unless the file says `fenceOverlap:
 * first-wins`) resolve to the first fence (lowest index) containing the point.
 */

export interface FenceIndexOptions {
  /** grid cell size in degrees (default 0.1, ~10 km: fastest on the committed fences, see docs/routing.md) */
  cellSizeDeg?: number;
}

export interface FenceIndexStats {
  fences: number;
  vertices: number;
  cellSizeDeg: number;
  cols: number;
  rows: number;
  cells: number;
  boundaryCells: number;
  /** edges stored per boundary cell, on average (an edge shared by two fences counts twice) */
  avgEdgesPerBoundaryCell: number;
  buildMs: number;
  /** typed arrays held by the index */
  approxBytes: number;
}

const OUTSIDE = -1;
export const DEFAULT_CELL_DEG = 0.1;
/** Relative margin by which an edge's cell coverage is widened, so rounding never misses a cell. */
const MARGIN = 1e-6;

export class FenceIndex {
  readonly stats: FenceIndexStats;
  private readonly fences: readonly Fence[];
  /** shard of fence i */
  private readonly shardOf: Int32Array;
  private readonly x0: number;
  private readonly y0: number;
  private readonly inv: number;
  private readonly cols: number;
  private readonly rows: number;
  /** >= 0: fence index; -1: outside every fence; <= -2: boundary cell number -2 - v */
  private readonly grid: Int32Array;
  // Boundary cells (b), their fence groups (g) and edges (e), CSR style.
  private readonly refX: Float64Array;
  private readonly refY: Float64Array;
  /** lowest fence containing the whole cell among fences with no edge in it, or -1 */
  private readonly base: Int32Array;
  private readonly groupStart: Int32Array;
  private readonly groupFence: Int32Array;
  /** 1 when the cell's reference point is inside the group's fence */
  private readonly groupRefIn: Uint8Array;
  private readonly edgeStart: Int32Array;
  /** x1, y1, x2, y2 per edge, canonical direction (lexicographically smaller end first) */
  private readonly edges: Float64Array;
  /** 1 when the reference point is on the >= 0 side of the edge */
  private readonly refSide: Uint8Array;

  private constructor(fences: readonly Fence[], b: Built, buildMs: number) {
    this.fences = fences;
    this.shardOf = Int32Array.from(fences, (f) => f.shard);
    this.x0 = b.x0;
    this.y0 = b.y0;
    this.inv = 1 / b.cell;
    this.cols = b.cols;
    this.rows = b.rows;
    this.grid = b.grid;
    this.refX = b.refX;
    this.refY = b.refY;
    this.base = b.base;
    this.groupStart = b.groupStart;
    this.groupFence = b.groupFence;
    this.groupRefIn = b.groupRefIn;
    this.edgeStart = b.edgeStart;
    this.edges = b.edges;
    this.refSide = b.refSide;
    const arrays = [
      this.shardOf,
      this.grid,
      this.refX,
      this.refY,
      this.base,
      this.groupStart,
      this.groupFence,
      this.groupRefIn,
      this.edgeStart,
      this.edges,
      this.refSide,
    ];
    const boundaryCells = b.refX.length;
    this.stats = {
      fences: fences.length,
      vertices: b.vertices,
      cellSizeDeg: b.cell,
      cols: b.cols,
      rows: b.rows,
      cells: b.cols * b.rows,
      boundaryCells,
      avgEdgesPerBoundaryCell: boundaryCells ? b.refSide.length / boundaryCells : 0,
      buildMs,
      approxBytes: arrays.reduce((s, a) => s + a.byteLength, 0),
    };
  }

  static build(fences: readonly Fence[], options: FenceIndexOptions = {}): FenceIndex {
    const t0 = performance.now();
    const built = buildGrid(fences, options.cellSizeDeg ?? DEFAULT_CELL_DEG);
    return new FenceIndex(fences, built, performance.now() - t0);
  }

  /** Shard of the fence containing the point, or -1 when it is outside every fence. */
  lookup(lat: number, lng: number): number {
    const f = this.fenceAt(lat, lng);
    return f < 0 ? OUTSIDE : this.shardOf[f];
  }

  /** Position (in the fences array) of the fence containing the point, or -1. */
  fenceAt(lat: number, lng: number): number {
    const fx = (lng - this.x0) * this.inv;
    const fy = (lat - this.y0) * this.inv;
    // written so that NaN fails it too
    if (!(fx >= 0 && fy >= 0 && fx < this.cols && fy < this.rows)) return OUTSIDE;
    const v = this.grid[(fy | 0) * this.cols + (fx | 0)];
    return v >= OUTSIDE ? v : this.inBoundaryCell(-2 - v, lng, lat);
  }

  /** The fence at a position returned by fenceAt. */
  fence(i: number): Fence {
    return this.fences[i];
  }

  get size(): number {
    return this.fences.length;
  }

  private inBoundaryCell(b: number, qx: number, qy: number): number {
    const rx = this.refX[b];
    const ry = this.refY[b];
    const dx = qx - rx;
    const dy = qy - ry;
    const best = this.base[b];
    const E = this.edges;
    const side = this.refSide;
    for (let g = this.groupStart[b], gEnd = this.groupStart[b + 1]; g < gEnd; g++) {
      const f = this.groupFence[g];
      if (best >= 0 && f > best) break; // groups are sorted by fence: nothing lower can follow
      let inside = this.groupRefIn[g];
      for (let e = this.edgeStart[g], end = this.edgeStart[g + 1]; e < end; e++) {
        const o = e << 2;
        const ax = E[o];
        const ay = E[o + 1];
        const bx = E[o + 2];
        const by = E[o + 3];
        // Do a and b lie on different sides of the line ref→query ...
        if (dx * (ay - ry) - dy * (ax - rx) >= 0 !== dx * (by - ry) - dy * (bx - rx) >= 0) {
          // ... and ref and query on different sides of the edge? Then the segment crosses it.
          if (((bx - ax) * (qy - ay) - (by - ay) * (qx - ax) >= 0 ? 1 : 0) !== side[e]) inside ^= 1;
        }
      }
      if (inside) return f;
    }
    return best;
  }
}

interface Built {
  x0: number;
  y0: number;
  cell: number;
  cols: number;
  rows: number;
  vertices: number;
  grid: Int32Array;
  refX: Float64Array;
  refY: Float64Array;
  base: Int32Array;
  groupStart: Int32Array;
  groupFence: Int32Array;
  groupRefIn: Uint8Array;
  edgeStart: Int32Array;
  edges: Float64Array;
  refSide: Uint8Array;
}

function buildGrid(fences: readonly Fence[], cell: number): Built {
  if (!(cell > 0 && cell <= 10)) throw new RangeError(`fence index: cellSizeDeg ${cell} outside (0, 10]`);

  // All edges, canonical direction, with their fence; and the bounding box.
  const segFence: number[] = [];
  const seg: number[] = [];
  let vertices = 0;
  let minX = Number.POSITIVE_INFINITY;
  let minY = Number.POSITIVE_INFINITY;
  let maxX = Number.NEGATIVE_INFINITY;
  let maxY = Number.NEGATIVE_INFINITY;
  fences.forEach((fence, f) => {
    for (const polygon of fence.polygons) {
      for (const ring of polygon) {
        vertices += ring.length - 1;
        for (let k = 0; k + 1 < ring.length; k++) {
          let [ax, ay] = ring[k];
          let [bx, by] = ring[k + 1];
          if (ax === bx && ay === by) continue;
          if (bx < ax || (bx === ax && by < ay)) [ax, ay, bx, by] = [bx, by, ax, ay];
          seg.push(ax, ay, bx, by);
          segFence.push(f);
          minX = Math.min(minX, ax, bx);
          maxX = Math.max(maxX, ax, bx);
          minY = Math.min(minY, ay, by);
          maxY = Math.max(maxY, ay, by);
        }
      }
    }
  });
  const nSeg = segFence.length;
  if (nSeg === 0) {
    return {
      x0: 0,
      y0: 0,
      cell,
      cols: 0,
      rows: 0,
      vertices,
      grid: new Int32Array(0),
      refX: new Float64Array(0),
      refY: new Float64Array(0),
      base: new Int32Array(0),
      groupStart: new Int32Array(1),
      groupFence: new Int32Array(0),
      groupRefIn: new Uint8Array(0),
      edgeStart: new Int32Array(1),
      edges: new Float64Array(0),
      refSide: new Uint8Array(0),
    };
  }
  const x0 = minX;
  const y0 = minY;
  const cols = Math.floor((maxX - x0) / cell) + 1;
  const rows = Math.floor((maxY - y0) / cell) + 1;
  if (cols * rows > 50_000_000)
    throw new RangeError(
      `fence index: ${cols}x${rows} cells at ${cell}° is too many (use a larger cellSizeDeg)`,
    );
  const inv = 1 / cell;
  const m = MARGIN;

  // 1. Which cells each edge touches (bounding-box cells, then an exact segment/box test on the
  //    cell widened by a margin). Two passes: count, then fill, in fence order so that each cell's
  //    list comes out grouped by fence, lowest fence first.
  const touches = (s: number, c: number, r: number): boolean => {
    const ax = seg[s * 4];
    const ay = seg[s * 4 + 1];
    const bx = seg[s * 4 + 2];
    const by = seg[s * 4 + 3];
    const lx = x0 + (c - m) * cell;
    const hx = x0 + (c + 1 + m) * cell;
    const ly = y0 + (r - m) * cell;
    const hy = y0 + (r + 1 + m) * cell;
    // bounding boxes overlap by construction; the box must not lie wholly on one side of the line
    const ex = bx - ax;
    const ey = by - ay;
    const o1 = ex * (ly - ay) - ey * (lx - ax);
    const o2 = ex * (ly - ay) - ey * (hx - ax);
    const o3 = ex * (hy - ay) - ey * (lx - ax);
    const o4 = ex * (hy - ay) - ey * (hx - ax);
    return !((o1 > 0 && o2 > 0 && o3 > 0 && o4 > 0) || (o1 < 0 && o2 < 0 && o3 < 0 && o4 < 0));
  };
  const clampC = (v: number): number => Math.min(cols - 1, Math.max(0, v));
  const clampR = (v: number): number => Math.min(rows - 1, Math.max(0, v));
  const visit = (s: number, fn: (cellId: number) => void): void => {
    const ax = seg[s * 4];
    const ay = seg[s * 4 + 1];
    const bx = seg[s * 4 + 2];
    const by = seg[s * 4 + 3];
    const c0 = clampC(Math.floor((Math.min(ax, bx) - x0) * inv - m));
    const c1 = clampC(Math.floor((Math.max(ax, bx) - x0) * inv + m));
    const r0 = clampR(Math.floor((Math.min(ay, by) - y0) * inv - m));
    const r1 = clampR(Math.floor((Math.max(ay, by) - y0) * inv + m));
    for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) if (touches(s, c, r)) fn(r * cols + c);
  };
  const cellCount = cols * rows;
  const perCell = new Int32Array(cellCount + 1);
  for (let s = 0; s < nSeg; s++) visit(s, (id) => perCell[id + 1]++);
  for (let i = 0; i < cellCount; i++) perCell[i + 1] += perCell[i];
  const cellSegs = new Int32Array(perCell[cellCount]);
  const fill = perCell.slice(0, cellCount);
  for (let s = 0; s < nSeg; s++) visit(s, (id) => (cellSegs[fill[id]++] = s));

  // 2. Number the boundary cells.
  const grid = new Int32Array(cellCount).fill(OUTSIDE);
  const boundaryIds: number[] = [];
  for (let id = 0; id < cellCount; id++) {
    if (perCell[id + 1] > perCell[id]) {
      grid[id] = -2 - boundaryIds.length;
      boundaryIds.push(id);
    }
  }
  const nB = boundaryIds.length;

  // 3. Scan each row along its centre line: the crossings of each fence's edges give the intervals
  //    inside that fence. Cells with no edge take the lowest fence containing their centre; boundary
  //    cells record, as their base, the lowest containing fence that has no edge inside the cell.
  const rowCross: number[][] = Array.from({ length: rows }, () => []);
  for (let s = 0; s < nSeg; s++) {
    const ay = seg[s * 4 + 1];
    const by = seg[s * 4 + 3];
    if (ay === by) continue;
    const r0 = Math.max(0, Math.ceil((Math.min(ay, by) - y0) * inv - 0.5) - 1);
    const r1 = Math.min(rows - 1, Math.floor((Math.max(ay, by) - y0) * inv - 0.5) + 1);
    for (let r = r0; r <= r1; r++) {
      const yc = y0 + (r + 0.5) * cell;
      if (ay > yc !== by > yc) {
        const ax = seg[s * 4];
        const bx = seg[s * 4 + 2];
        rowCross[r].push(segFence[s], ax + ((yc - ay) * (bx - ax)) / (by - ay));
      }
    }
  }
  const base = new Int32Array(nB).fill(OUTSIDE);
  const hasEdgeOf = (id: number, f: number): boolean => {
    for (let k = perCell[id]; k < perCell[id + 1]; k++) if (segFence[cellSegs[k]] === f) return true;
    return false;
  };
  /** per row: fence → sorted crossing x's (kept for the reference points below) */
  const rowFenceCross: Map<number, number[]>[] = new Array(rows);
  for (let r = 0; r < rows; r++) {
    const byFence = new Map<number, number[]>();
    const list = rowCross[r];
    for (let k = 0; k < list.length; k += 2) {
      const xs = byFence.get(list[k]) ?? [];
      xs.push(list[k + 1]);
      byFence.set(list[k], xs);
    }
    for (const [f, xs] of byFence) {
      xs.sort((a, b) => a - b);
      for (let k = 0; k + 1 < xs.length; k += 2) {
        // cells whose centre x0 + (c + 0.5) * cell lies in [xs[k], xs[k + 1])
        const c0 = Math.max(0, Math.ceil((xs[k] - x0) * inv - 0.5));
        const c1 = Math.min(cols - 1, Math.ceil((xs[k + 1] - x0) * inv - 0.5) - 1);
        for (let c = c0; c <= c1; c++) {
          const id = r * cols + c;
          const v = grid[id];
          if (v >= -1) {
            if (v === OUTSIDE || f < v) grid[id] = f;
          } else {
            const b = -2 - v;
            if ((base[b] === OUTSIDE || f < base[b]) && !hasEdgeOf(id, f)) base[b] = f;
          }
        }
      }
    }
    rowFenceCross[r] = byFence;
    rowCross[r] = [];
  }

  // 4. Boundary cells: a reference point well away from the cell's edges, its membership in each
  //    fence that has edges in the cell, and the edges themselves, copied per cell for locality.
  const refX = new Float64Array(nB);
  const refY = new Float64Array(nB);
  const groupStart = new Int32Array(nB + 1);
  const groupFence: number[] = [];
  const groupRefIn: number[] = [];
  const edgeStart: number[] = [0];
  const edgesOut: number[] = [];
  const refSide: number[] = [];
  const distance = (px: number, py: number, s: number): number => {
    const ax = seg[s * 4];
    const ay = seg[s * 4 + 1];
    const ex = seg[s * 4 + 2] - ax;
    const ey = seg[s * 4 + 3] - ay;
    const t = Math.max(0, Math.min(1, ((px - ax) * ex + (py - ay) * ey) / (ex * ex + ey * ey)));
    return Math.hypot(px - ax - t * ex, py - ay - t * ey);
  };
  const FRACTIONS = [0.5, 0.3, 0.7, 0.1, 0.9, 0.2, 0.8, 0.4, 0.6];
  for (let b = 0; b < nB; b++) {
    const id = boundaryIds[b];
    const r = Math.floor(id / cols);
    const c = id - r * cols;
    const lo = perCell[id];
    const hi = perCell[id + 1];
    const minDist = (px: number, py: number): number => {
      let d = Number.POSITIVE_INFINITY;
      for (let k = lo; k < hi; k++) d = Math.min(d, distance(px, py, cellSegs[k]));
      return d;
    };
    // Prefer a point on the row's centre line: the scan above already knows its membership.
    const yc = y0 + (r + 0.5) * cell;
    let px = 0;
    let best = -1;
    for (const fr of FRACTIONS) {
      const x = x0 + (c + fr) * cell;
      const d = minDist(x, yc);
      if (d > best) {
        best = d;
        px = x;
      }
    }
    let py = yc;
    let onRow = true;
    if (best < cell * 1e-4) {
      // An edge runs along the centre line: take the best point of a 2-D lattice instead and
      // test it against whole fences (rare, so the cost does not matter).
      onRow = false;
      for (const fy of FRACTIONS) {
        for (const fx of FRACTIONS) {
          const x = x0 + (c + fx) * cell;
          const y = y0 + (r + fy) * cell;
          const d = minDist(x, y);
          if (d > best) {
            best = d;
            px = x;
            py = y;
          }
        }
      }
    }
    refX[b] = px;
    refY[b] = py;
    groupStart[b] = groupFence.length;
    for (let k = lo; k < hi; ) {
      const f = segFence[cellSegs[k]];
      let inside: boolean;
      if (onRow) {
        const xs = rowFenceCross[r].get(f) ?? [];
        let n = 0;
        while (n < xs.length && xs[n] < px) n++;
        inside = n % 2 === 1;
      } else {
        inside = pointInFence(px, py, fences[f]);
      }
      groupFence.push(f);
      groupRefIn.push(inside ? 1 : 0);
      for (; k < hi && segFence[cellSegs[k]] === f; k++) {
        const s = cellSegs[k];
        const ax = seg[s * 4];
        const ay = seg[s * 4 + 1];
        const bx = seg[s * 4 + 2];
        const by = seg[s * 4 + 3];
        edgesOut.push(ax, ay, bx, by);
        refSide.push((bx - ax) * (py - ay) - (by - ay) * (px - ax) >= 0 ? 1 : 0);
      }
      edgeStart.push(refSide.length);
    }
  }
  groupStart[nB] = groupFence.length;

  return {
    x0,
    y0,
    cell,
    cols,
    rows,
    vertices,
    grid,
    refX,
    refY,
    base,
    groupStart,
    groupFence: Int32Array.from(groupFence),
    groupRefIn: Uint8Array.from(groupRefIn),
    edgeStart: Int32Array.from(edgeStart),
    edges: Float64Array.from(edgesOut),
    refSide: Uint8Array.from(refSide),
  };
}

/** Whole-fence crossing-number test (all rings, holes included): used only while building. */
export function pointInFence(x: number, y: number, fence: Fence): boolean {
  let inside = false;
  for (const polygon of fence.polygons) {
    for (const ring of polygon) {
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        const [xi, yi] = ring[i];
        const [xj, yj] = ring[j];
        if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
      }
    }
  }
  return inside;
}
