/**
 * `report.html` of a drill run: one self-contained page (inline CSS, inline SVG drawn here at
 * render time; no script, no network, no fonts) from the history and the checkers' results.
 *
 * Shown: the drill and its overall verdict; every client operation's latency over time (log
 * scale, coloured by result); latency quantiles per operation type; throughput per bucket by
 * result; availability per eZone; replication lag per direction (when the results carry it); every
 * nemesis's windows shaded behind every time plot; the checkers' verdicts with their evidence, the
 * history lines a violation names linked to an excerpt of the history.
 *
 * Everything from the history or the results is escaped: the history carries user data.
 */
import type { ClientEvent, HistoryEvent, NemesisEvent } from '../history/events.js';

export interface ReportInput {
  events: HistoryEvent[];
  /** results.json: `{checks, figures?, drill?, lag?}`; anything missing is shown as missing */
  results: object;
}

/** More scatter points than this are downsampled (the page says so). */
export const MAX_SCATTER_POINTS = 20_000;
/** At most this many buckets per time plot: a long drill gets wider buckets (the page says so). */
const MAX_BUCKETS = 600;
/** History lines shown in the excerpt at most. */
const MAX_EXCERPT = 2_000;

type Result = 'ok' | 'fail' | 'info';
type Verdict = 'ok' | 'fail' | 'unknown';

const RESULT_COLOUR: Record<Result, string> = { ok: '#2ca02c', fail: '#ff7f0e', info: '#d62728' };
const VERDICT_COLOUR: Record<Verdict, string> = { ok: '#1e7b1e', fail: '#c0392b', unknown: '#8a6d00' };
/** nemesis shades: none of them green/orange/red, the result colours */
const NEMESIS_PALETTE = [
  '#1f77b4',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#17becf',
  '#bcbd22',
  '#393b79',
];
const ZONE_PALETTE = ['#1f77b4', '#9467bd', '#17becf', '#8c564b', '#e377c2', '#bcbd22', '#7f7f7f', '#393b79'];

const WRITES = new Set(['create', 'accept', 'pickup', 'deliver', 'cancel', 'register']);

// --- escaping -------------------------------------------------------------------------------------

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Text or attribute value, safe inside HTML/SVG. */
export const esc = (v: unknown): string => String(v).replace(/[&<>"']/g, (c) => ESC[c]);

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const fmt = (v: number, digits = 1): string =>
  Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) >= 100 ? 0 : digits);
const r1 = (v: number): string => (Math.round(v * 10) / 10).toString();
const json = (v: unknown): string => {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
};

// --- the history, made into operations and windows -------------------------------------------------

interface ClientOp {
  invoke: ClientEvent;
  complete: ClientEvent | null;
  f: string;
  result: Result;
  t: number;
  /** completion time (the drill's end for an operation still open) */
  end: number;
  ms: number;
  zone?: string;
}

interface NemesisWindow {
  nemesis: string;
  kind: 'fault' | 'action';
  from: number;
  to: number;
  /** the window never closed in the history (drawn to the end) */
  open: boolean;
  /** the start or action completed with `fail` (not done) */
  failed: boolean;
  value?: unknown;
  result?: unknown;
  lines: number[];
}

interface Parsed {
  ops: ClientOp[];
  windows: NemesisWindow[];
  /** ms: the plots' time axis */
  tEnd: number;
  /** completions with no open invoke, and other lines that are not understood */
  malformed: number[];
}

function parseHistory(events: HistoryEvent[], durationMs: number | undefined): Parsed {
  let tEnd = durationMs ?? 0;
  for (const e of events) if (num(e.time) !== undefined && e.time > tEnd) tEnd = e.time;

  const open = new Map<string | number, ClientEvent>();
  const pairs: { invoke: ClientEvent; complete: ClientEvent | null }[] = [];
  const nemOpen = new Map<string, NemesisEvent>();
  const faultOpen = new Map<string, { start: NemesisEvent; startDone: NemesisEvent | null }>();
  const windows: NemesisWindow[] = [];
  const malformed: number[] = [];

  const closeFault = (name: string, to: number, stop: NemesisEvent[], isOpen: boolean) => {
    const f = faultOpen.get(name);
    if (!f) return;
    faultOpen.delete(name);
    windows.push({
      nemesis: name,
      kind: 'fault',
      from: f.start.time,
      to,
      open: isOpen,
      failed: f.startDone?.type === 'fail',
      value: f.start.value,
      result: f.startDone?.result ?? f.startDone?.error,
      lines: [f.start.index, ...(f.startDone ? [f.startDone.index] : []), ...stop.map((e) => e.index)],
    });
  };

  for (const e of events) {
    if (!isObj(e) || num(e.time) === undefined) {
      if (isObj(e) && num(e.index) !== undefined) malformed.push(e.index);
      continue;
    }
    if (e.process === 'nemesis') {
      const n = e as NemesisEvent;
      const name = str(n.nemesis) ?? '?';
      const key = `${name}:${n.f}`;
      if (n.type === 'invoke') {
        nemOpen.set(key, n);
        if (n.f === 'start') {
          // a second start of the same fault closes the first window where the new one begins
          if (faultOpen.has(name)) closeFault(name, n.time, [], false);
          faultOpen.set(name, { start: n, startDone: null });
        }
        continue;
      }
      const inv = nemOpen.get(key);
      nemOpen.delete(key);
      if (n.f === 'start') {
        const f = faultOpen.get(name);
        if (f) f.startDone = n;
        else faultOpen.set(name, { start: inv ?? n, startDone: n });
      } else if (n.f === 'stop') {
        closeFault(name, n.time, [...(inv ? [inv] : []), n], false);
      } else {
        const from = inv ?? n;
        windows.push({
          nemesis: name,
          kind: 'action',
          from: from.time,
          to: n.time,
          open: false,
          failed: n.type === 'fail',
          value: from.value,
          result: n.result ?? n.error,
          lines: [...(inv ? [inv.index] : []), n.index],
        });
      }
      continue;
    }
    const c = e as ClientEvent;
    if (c.type === 'invoke') {
      const prev = open.get(c.process);
      if (prev) pairs.push({ invoke: prev, complete: null });
      open.set(c.process, c);
    } else {
      const inv = open.get(c.process);
      if (!inv) {
        malformed.push(c.index);
        continue;
      }
      open.delete(c.process);
      pairs.push({ invoke: inv, complete: c });
    }
  }
  for (const inv of open.values()) pairs.push({ invoke: inv, complete: null });
  for (const [key, inv] of nemOpen) {
    // an action never completed: drawn to the end
    if (inv.f === 'action')
      windows.push({
        nemesis: key.slice(0, key.lastIndexOf(':')),
        kind: 'action',
        from: inv.time,
        to: tEnd,
        open: true,
        failed: false,
        value: inv.value,
        lines: [inv.index],
      });
  }
  for (const name of [...faultOpen.keys()]) closeFault(name, tEnd, [], true);

  const ops: ClientOp[] = pairs.map(({ invoke, complete }) => {
    const result: Result = complete?.type === 'ok' ? 'ok' : complete?.type === 'fail' ? 'fail' : 'info';
    const end = complete ? complete.time : tEnd;
    const ms = num(complete?.ms) ?? Math.max(0, end - invoke.time);
    const zone =
      str(complete?.zone) ??
      str(invoke.value?.zone) ??
      str((invoke.value as Record<string, unknown> | undefined)?.ezone);
    return { invoke, complete, f: String(invoke.f), result, t: invoke.time, end, ms, zone };
  });
  ops.sort((a, b) => a.t - b.t);
  windows.sort((a, b) => a.from - b.from);
  return { ops, windows, tEnd: Math.max(tEnd, 1), malformed };
}

// --- numbers ---------------------------------------------------------------------------------------

/** nearest-rank quantile of sorted values */
const quantile = (sorted: number[], q: number): number =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] : NaN;

function niceStep(span: number, target: number): number {
  const raw = span / Math.max(1, target);
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

function linearTicks(lo: number, hi: number, target: number): number[] {
  if (!(hi > lo)) return [lo];
  const step = niceStep(hi - lo, target);
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

// --- SVG plots -------------------------------------------------------------------------------------

const W = 960;
const ML = 64;
const MR = 16;
const MT = 10;
const MB = 34;

interface Frame {
  h: number;
  tEnd: number;
  x: (t: number) => number;
  y: (v: number) => number;
  top: number;
  bottom: number;
}

function frame(h: number, tEnd: number, y: (v: number, top: number, bottom: number) => number): Frame {
  const top = MT;
  const bottom = h - MB;
  return {
    h,
    tEnd,
    top,
    bottom,
    x: (t) => ML + (Math.min(Math.max(t, 0), tEnd) / tEnd) * (W - ML - MR),
    y: (v) => y(v, top, bottom),
  };
}

function nemesisColours(windows: NemesisWindow[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const w of windows)
    if (!m.has(w.nemesis)) m.set(w.nemesis, NEMESIS_PALETTE[m.size % NEMESIS_PALETTE.length]);
  return m;
}

function nemesisLayer(f: Frame, windows: NemesisWindow[], colours: Map<string, string>): string {
  const rects = windows.map((w) => {
    const x0 = f.x(w.from);
    const width = Math.max(2, f.x(w.to) - x0);
    const label = `${w.nemesis}${w.kind === 'action' ? ' (action)' : ''}${w.failed ? ' (failed)' : ''}: ${fmt(w.from / 1000, 2)}–${fmt(w.to / 1000, 2)} s${w.open ? ' (never stopped)' : ''}`;
    return `<rect x="${r1(x0)}" y="${f.top}" width="${r1(width)}" height="${f.bottom - f.top}" fill="${colours.get(w.nemesis)}" fill-opacity="${w.failed ? 0.07 : 0.16}"${w.failed ? ' stroke-dasharray="4 3"' : ''} stroke="${colours.get(w.nemesis)}" stroke-opacity="0.5"><title>${esc(label)}</title></rect>`;
  });
  return `<g class="nemesis">${rects.join('')}</g>`;
}

function timeAxis(f: Frame): string {
  const ticks = linearTicks(0, f.tEnd / 1000, 10);
  const parts = ticks.map((s) => {
    const x = r1(f.x(s * 1000));
    return `<line x1="${x}" y1="${f.bottom}" x2="${x}" y2="${f.bottom + 4}"/><text x="${x}" y="${f.bottom + 16}" text-anchor="middle">${fmt(s, 1)}</text>`;
  });
  return `<g class="axis">${parts.join('')}<line x1="${ML}" y1="${f.bottom}" x2="${W - MR}" y2="${f.bottom}"/><text x="${W - MR}" y="${f.h - 4}" text-anchor="end">time since start (s)</text></g>`;
}

function yAxis(f: Frame, ticks: { v: number; label: string }[], title: string): string {
  const parts = ticks.map(({ v, label }) => {
    const y = r1(f.y(v));
    return `<line class="grid" x1="${ML}" y1="${y}" x2="${W - MR}" y2="${y}"/><text x="${ML - 6}" y="${y}" dy="0.32em" text-anchor="end">${esc(label)}</text>`;
  });
  return `<g class="axis">${parts.join('')}<line x1="${ML}" y1="${f.top}" x2="${ML}" y2="${f.bottom}"/><text transform="translate(12 ${(f.top + f.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(title)}</text></g>`;
}

const svgOpen = (plot: string, h: number, label: string): string =>
  `<svg data-plot="${plot}" class="plot" viewBox="0 0 ${W} ${h}" width="${W}" height="${h}" role="img" aria-label="${esc(label)}">`;

/** deterministic downsampling: every non-ok point while they fit, ok points evenly strided */
function downsample(ops: ClientOp[], max: number): ClientOp[] {
  if (ops.length <= max) return ops;
  const bad = ops.filter((o) => o.result !== 'ok');
  const good = ops.filter((o) => o.result === 'ok');
  const keepBad = bad.length <= max / 2 ? bad : stride(bad, Math.floor(max / 2));
  const keepGood = stride(good, max - keepBad.length);
  return [...keepGood, ...keepBad].sort((a, b) => a.t - b.t);
}

function stride<T>(xs: T[], n: number): T[] {
  if (xs.length <= n) return xs;
  const out: T[] = [];
  const step = xs.length / n;
  for (let i = 0; i < n; i++) out.push(xs[Math.floor(i * step)]);
  return out;
}

function latencyPlot(p: Parsed, colours: Map<string, string>): { svg: string; shown: number } {
  const h = 320;
  const lat = p.ops.map((o) => o.ms).filter((v) => v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.max(0.01, lat.length ? Math.min(...lat) : 1)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(lo * 10, lat.length ? Math.max(...lat) : 10)));
  const f = frame(h, p.tEnd, (v, top, bottom) => {
    const c = Math.log10(Math.max(v, lo));
    return bottom - ((c - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (bottom - top);
  });
  const ticks: { v: number; label: string }[] = [];
  for (let v = lo; v <= hi * 1.0001; v *= 10)
    ticks.push({ v, label: v >= 1000 ? `${v / 1000} s` : `${v} ms` });
  const shown = downsample(p.ops, MAX_SCATTER_POINTS);
  const byResult: Record<Result, string[]> = { ok: [], fail: [], info: [] };
  for (const o of shown) {
    const c = `<circle cx="${r1(f.x(o.t))}" cy="${r1(f.y(o.ms))}" r="2.2"`;
    // failures and infos carry a tooltip (what and why); ok points stay small
    byResult[o.result].push(
      o.result === 'ok'
        ? `${c}/>`
        : `${c}><title>${esc(`line ${o.invoke.index}: ${o.f} ${o.result}${o.complete?.error ? ` ${o.complete.error}` : ''} ${fmt(o.ms)} ms`)}</title></circle>`,
    );
  }
  const marks = (['ok', 'fail', 'info'] as Result[])
    .map(
      (r) => `<g class="r-${r}" fill="${RESULT_COLOUR[r]}" fill-opacity="0.75">${byResult[r].join('')}</g>`,
    )
    .join('');
  return {
    svg: `${svgOpen('latency', h, 'latency of every client operation over time')}${nemesisLayer(f, p.windows, colours)}${yAxis(f, ticks, 'latency (log)')}${timeAxis(f)}<g class="marks">${marks}</g></svg>`,
    shown: shown.length,
  };
}

function bucketing(tEnd: number): { size: number; n: number } {
  const size = Math.max(1000, Math.ceil(tEnd / MAX_BUCKETS / 1000) * 1000);
  return { size, n: Math.max(1, Math.ceil(tEnd / size)) };
}

function throughputPlot(p: Parsed, colours: Map<string, string>): string {
  const h = 240;
  const { size, n } = bucketing(p.tEnd);
  const counts = Array.from({ length: n }, () => ({ ok: 0, fail: 0, info: 0 }));
  for (const o of p.ops) {
    const b = Math.min(n - 1, Math.max(0, Math.floor(o.end / size)));
    counts[b][o.result]++;
  }
  const perS = (c: number) => c / (size / 1000);
  const maxTotal = Math.max(1, ...counts.map((c) => perS(c.ok + c.fail + c.info)));
  const ticks = linearTicks(0, maxTotal, 5);
  const yMax = Math.max(maxTotal, ticks[ticks.length - 1]);
  const f = frame(h, p.tEnd, (v, top, bottom) => bottom - (v / yMax) * (bottom - top));
  const bars: string[] = [];
  counts.forEach((c, i) => {
    let acc = 0;
    const x0 = f.x(i * size);
    const bw = Math.max(1, f.x(Math.min(p.tEnd, (i + 1) * size)) - x0 - 1);
    for (const r of ['ok', 'fail', 'info'] as Result[]) {
      if (!c[r]) continue;
      const y1 = f.y(acc + perS(c[r]));
      const y0 = f.y(acc);
      acc += perS(c[r]);
      bars.push(
        `<rect x="${r1(x0)}" y="${r1(y1)}" width="${r1(bw)}" height="${r1(Math.max(0.5, y0 - y1))}" fill="${RESULT_COLOUR[r]}"><title>${fmt((i * size) / 1000)}–${fmt(((i + 1) * size) / 1000)} s: ${c[r]} ${r}</title></rect>`,
      );
    }
  });
  return `${svgOpen('throughput', h, 'throughput over time by result')}${nemesisLayer(f, p.windows, colours)}${yAxis(
    f,
    ticks.map((v) => ({ v, label: fmt(v) })),
    'ops/s',
  )}${timeAxis(f)}<g class="marks">${bars.join('')}</g></svg>`;
}

function zonesOf(p: Parsed): string[] {
  const zones = new Set<string>();
  for (const o of p.ops) if (WRITES.has(o.f)) zones.add(o.zone ?? '(no eZone)');
  return [...zones].sort();
}

function availabilityPlot(p: Parsed, colours: Map<string, string>, zones: string[]): string {
  const h = 240;
  const { size, n } = bucketing(p.tEnd);
  const f = frame(h, p.tEnd, (v, top, bottom) => bottom - v * (bottom - top));
  const zoneColour = new Map(zones.map((z, i) => [z, ZONE_PALETTE[i % ZONE_PALETTE.length]]));
  const series: string[] = [];
  for (const z of zones) {
    const ok = new Array<number>(n).fill(0);
    const all = new Array<number>(n).fill(0);
    for (const o of p.ops) {
      if (!WRITES.has(o.f) || (o.zone ?? '(no eZone)') !== z || !o.complete) continue;
      const b = Math.min(n - 1, Math.max(0, Math.floor(o.t / size)));
      all[b]++;
      if (o.result === 'ok') ok[b]++;
    }
    let d = '';
    let pen = false;
    const dots: string[] = [];
    for (let i = 0; i < n; i++) {
      if (!all[i]) {
        pen = false; // no write in the bucket: a gap, not a zero
        continue;
      }
      const x = r1(f.x((i + 0.5) * size));
      const y = r1(f.y(ok[i] / all[i]));
      d += `${pen ? 'L' : 'M'}${x} ${y}`;
      pen = true;
      dots.push(
        `<circle cx="${x}" cy="${y}" r="2.5"><title>${esc(z)} ${fmt((i * size) / 1000)}–${fmt(((i + 1) * size) / 1000)} s: ${ok[i]}/${all[i]} ok</title></circle>`,
      );
    }
    const c = zoneColour.get(z);
    series.push(
      `<g class="zone" data-zone="${esc(z)}" stroke="${c}" fill="${c}">${d ? `<path d="${d}" fill="none" stroke-width="1.6"/>` : ''}${dots.join('')}</g>`,
    );
  }
  return `${svgOpen('availability', h, 'availability of writes per eZone over time')}${nemesisLayer(f, p.windows, colours)}${yAxis(
    f,
    [0, 0.25, 0.5, 0.75, 1].map((v) => ({ v, label: `${v * 100}%` })),
    'ok / completed',
  )}${timeAxis(f)}<g class="marks">${series.join('')}</g></svg>`;
}

interface LagSeries {
  from: string;
  to: string;
  samples: [number, number][];
}

/**
 * `results.lag`: samples `[timeMs, lagMs]`, time in ms since the drill started; a time that looks
 * like Unix ms (wall clock) is moved onto the drill's clock with the history's wall/time offset.
 */
function lagSeries(results: Record<string, unknown>, events: HistoryEvent[]): LagSeries[] | null {
  if (!Array.isArray(results.lag)) return null;
  const first = events.find((e) => num(e.wall) !== undefined && num(e.time) !== undefined);
  const wall0 = first ? first.wall - first.time : 0;
  const onClock = (t: number) => (t > 1e11 ? t - wall0 : t);
  return results.lag.filter(isObj).map((l) => ({
    from: String(l.from ?? '?'),
    to: String(l.to ?? '?'),
    samples: (Array.isArray(l.samples) ? l.samples : [])
      .filter(
        (s): s is [number, number] => Array.isArray(s) && num(s[0]) !== undefined && num(s[1]) !== undefined,
      )
      .map((s) => [onClock(s[0]), s[1]] as [number, number]),
  }));
}

function lagPlot(p: Parsed, colours: Map<string, string>, lag: LagSeries[]): string {
  const h = 240;
  const tEnd = Math.max(p.tEnd, ...lag.flatMap((l) => l.samples.map((s) => s[0])));
  const maxLag = Math.max(1, ...lag.flatMap((l) => l.samples.map((s) => s[1])));
  const ticks = linearTicks(0, maxLag, 5);
  const yMax = Math.max(maxLag, ticks[ticks.length - 1]);
  const f = frame(h, tEnd, (v, top, bottom) => bottom - (Math.max(0, v) / yMax) * (bottom - top));
  const series = lag.map((l, i) => {
    const c = ZONE_PALETTE[i % ZONE_PALETTE.length];
    const pts = [...l.samples].sort((a, b) => a[0] - b[0]);
    const d = pts.map(([t, v], j) => `${j ? 'L' : 'M'}${r1(f.x(t))} ${r1(f.y(v))}`).join('');
    const dots =
      pts.length <= 2000
        ? pts.map(([t, v]) => `<circle cx="${r1(f.x(t))}" cy="${r1(f.y(v))}" r="1.8"/>`).join('')
        : '';
    return `<g class="lag" stroke="${c}" fill="${c}"><title>${esc(`${l.from} → ${l.to}`)}</title>${d ? `<path d="${d}" fill="none" stroke-width="1.5"/>` : ''}${dots}</g>`;
  });
  return `${svgOpen('lag', h, 'replication lag per direction over time')}${nemesisLayer(f, p.windows, colours)}${yAxis(
    f,
    ticks.map((v) => ({ v, label: `${fmt(v)} ms` })),
    'lag',
  )}${timeAxis(f)}<g class="marks">${series.join('')}</g></svg>`;
}

// --- tables and evidence --------------------------------------------------------------------------

function quantileTable(p: Parsed): string {
  const groups = new Map<string, ClientOp[]>();
  for (const o of p.ops) {
    const g = groups.get(o.f) ?? [];
    g.push(o);
    groups.set(o.f, g);
  }
  const rows = [
    ...[...groups.entries()].sort((a, b) => a[0].localeCompare(b[0])),
    ['all', p.ops] as const,
  ].map(([f, ops]) => {
    const ms = ops
      .filter((o) => o.complete && num(o.complete.ms) !== undefined)
      .map((o) => o.ms)
      .sort((a, b) => a - b);
    const n = (r: Result) => ops.filter((o) => o.result === r).length;
    const q = (v: number) => (Number.isNaN(v) ? '–' : fmt(v));
    return `<tr${f === 'all' ? ' class="total"' : ''}><th>${esc(f)}</th><td>${ops.length}</td><td>${n('ok')}</td><td>${n('fail')}</td><td>${n('info')}</td><td>${q(quantile(ms, 0.5))}</td><td>${q(quantile(ms, 0.9))}</td><td>${q(quantile(ms, 0.99))}</td><td>${q(ms.length ? ms[ms.length - 1] : NaN)}</td></tr>`;
  });
  return `<table class="quantiles"><thead><tr><th>operation</th><th>count</th><th>ok</th><th>fail</th><th>info</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>max ms</th></tr></thead><tbody>${rows.join('')}</tbody></table><p class="note">Quantiles over completions that carry a latency (nearest rank); an operation still open at the end counts as info and has none.</p>`;
}

interface Check {
  name: string;
  verdict: Verdict;
  checked?: number;
  reason?: string;
  violations: { text: string; lines: number[] }[];
  extra: Record<string, unknown>;
}

/** History lines a violation names: "line 12", "lines 3, 5 and 9", "history line 7", "#42", "index 8". */
export function referencedLines(text: string): number[] {
  const out = new Set<number>();
  for (const m of text.matchAll(/\b(?:lines?|indexe?s?|events?)\s+(\d+(?:\s*(?:,|and|&|\/)\s*\d+)*)/gi))
    for (const d of m[1].matchAll(/\d+/g)) out.add(Number(d[0]));
  for (const m of text.matchAll(/(?:^|[\s([,])#(\d+)\b/g)) out.add(Number(m[1]));
  return [...out];
}

function violationOf(v: unknown): { text: string; lines: number[] } {
  if (typeof v === 'string') return { text: v, lines: referencedLines(v) };
  if (isObj(v)) {
    const text = str(v.text) ?? str(v.message) ?? str(v.reason) ?? json(v);
    const given = [v.lines, v.indexes, v.history, v.index, v.line]
      .flatMap((x) => (Array.isArray(x) ? x : [x]))
      .filter((x): x is number => num(x) !== undefined);
    return { text, lines: [...new Set([...given, ...referencedLines(text)])] };
  }
  return { text: json(v), lines: [] };
}

function checksOf(results: Record<string, unknown>): Check[] {
  if (!isObj(results.checks)) return [];
  return Object.entries(results.checks).map(([name, c]) => {
    const o = isObj(c) ? c : {};
    const verdict: Verdict =
      o.verdict === 'ok' || o.verdict === 'fail' || o.verdict === 'unknown'
        ? o.verdict
        : o.ok === true
          ? 'ok'
          : o.ok === false
            ? 'fail'
            : 'unknown';
    const { verdict: _v, ok: _o, checked, reason, violations, ...extra } = o;
    return {
      name,
      verdict,
      checked: num(checked),
      reason: reason === undefined ? undefined : String(reason),
      violations: (Array.isArray(violations) ? violations : []).map(violationOf),
      extra,
    };
  });
}

function overall(checks: Check[]): Verdict {
  if (checks.some((c) => c.verdict === 'fail')) return 'fail';
  if (checks.length === 0 || checks.some((c) => c.verdict === 'unknown')) return 'unknown';
  return 'ok';
}

const lineLink = (i: number, known: Set<number>): string =>
  known.has(i)
    ? `<a href="#h-${i}" class="line">line ${i}</a>`
    : `<span class="line missing">line ${i} (not in the history)</span>`;

function checksSection(checks: Check[], known: Set<number>): string {
  if (!checks.length) return '<p class="note">results.json has no checks.</p>';
  return checks
    .map((c) => {
      const extra = Object.keys(c.extra).length
        ? `<details><summary>more</summary><pre>${esc(JSON.stringify(c.extra, null, 2))}</pre></details>`
        : '';
      const vs = c.violations.length
        ? `<ol class="violations">${c.violations
            .map(
              (v) =>
                `<li class="violation"><span class="text">${esc(v.text)}</span>${v.lines.length ? ` <span class="refs">→ ${v.lines.map((i) => lineLink(i, known)).join(', ')}</span>` : ''}</li>`,
            )
            .join('')}</ol>`
        : '';
      return `<div class="check v-${c.verdict}" id="check-${esc(c.name)}"><h3><span class="badge v-${c.verdict}">${c.verdict}</span> ${esc(c.name)}</h3><p>${c.checked !== undefined ? `${c.checked} checked` : 'checked: –'}${c.violations.length ? `, ${c.violations.length} violation${c.violations.length === 1 ? '' : 's'}` : ''}${c.reason ? ` — could not judge: ${esc(c.reason)}` : ''}</p>${vs}${extra}</div>`;
    })
    .join('');
}

function excerptSection(events: HistoryEvent[], lines: number[]): string {
  if (!lines.length) return '<p class="note">No violation or nemesis names a history line.</p>';
  const byIndex = new Map(events.map((e) => [e.index, e]));
  const shown = [...new Set(lines)].filter((i) => byIndex.has(i)).sort((a, b) => a - b);
  const cut = shown.length > MAX_EXCERPT;
  const rows = shown.slice(0, MAX_EXCERPT).map((i) => {
    const e = byIndex.get(i)!;
    return `<tr id="h-${i}" class="t-${esc(e.type)}"><th>${i}</th><td>${fmt(num(e.time) ?? 0)}</td><td><code>${esc(json(e))}</code></td></tr>`;
  });
  return `<table class="excerpt"><thead><tr><th>line</th><th>ms</th><th>event</th></tr></thead><tbody>${rows.join('')}</tbody></table>${cut ? `<p class="note">First ${MAX_EXCERPT} of ${shown.length} referenced lines shown.</p>` : ''}`;
}

function nemesisSection(p: Parsed, colours: Map<string, string>): string {
  if (!p.windows.length) return '<p class="note">No nemesis in this history.</p>';
  const legend = [...colours.entries()]
    .map(
      ([n, c]) =>
        `<span class="key"><span class="swatch" style="background:${c};opacity:.45"></span>${esc(n)}</span>`,
    )
    .join('');
  const rows = p.windows.map(
    (w) =>
      `<tr><td><span class="swatch" style="background:${colours.get(w.nemesis)};opacity:.45"></span>${esc(w.nemesis)}</td><td>${w.kind}${w.failed ? ' (failed)' : ''}</td><td>${fmt(w.from / 1000, 2)}</td><td>${fmt(w.to / 1000, 2)}${w.open ? ' (never stopped)' : ''}</td><td><code>${esc(json(w.value ?? {}))}</code></td><td><code>${w.result === undefined ? '' : esc(json(w.result))}</code></td><td>${w.lines.map((i) => `<a href="#h-${i}">${i}</a>`).join(' ')}</td></tr>`,
  );
  return `<div class="legend nemesis-legend">${legend}</div><table class="windows"><thead><tr><th>nemesis</th><th>kind</th><th>from s</th><th>to s</th><th>value</th><th>result</th><th>lines</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function kvTable(o: Record<string, unknown>, cls: string): string {
  const rows = Object.entries(o).map(
    ([k, v]) =>
      `<tr><th>${esc(k)}</th><td>${typeof v === 'object' && v !== null ? `<code>${esc(json(v))}</code>` : esc(v)}</td></tr>`,
  );
  return `<table class="${cls}"><tbody>${rows.join('')}</tbody></table>`;
}

const resultLegend = (): string =>
  `<div class="legend">${(['ok', 'fail', 'info'] as Result[])
    .map(
      (r) => `<span class="key"><span class="dot" style="background:${RESULT_COLOUR[r]}"></span>${r}</span>`,
    )
    .join('')}</div>`;

const CSS = `
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0 auto;max-width:1000px;padding:16px;color:#1d1d1f;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:3px}h3{font-size:15px;margin:6px 0}
header{display:flex;justify-content:space-between;align-items:flex-start;gap:16px;border-bottom:3px solid #ddd;padding-bottom:10px}
.verdict{font-size:28px;font-weight:700;padding:6px 18px;border-radius:6px;color:#fff;text-transform:uppercase;letter-spacing:.04em}
.v-ok.verdict,.badge.v-ok{background:${VERDICT_COLOUR.ok}}.v-fail.verdict,.badge.v-fail{background:${VERDICT_COLOUR.fail}}.v-unknown.verdict,.badge.v-unknown{background:${VERDICT_COLOUR.unknown}}
.badge{color:#fff;border-radius:3px;padding:0 6px;font-size:12px;text-transform:uppercase;vertical-align:2px}
.meta{color:#555}.meta b{color:#1d1d1f}
svg.plot{display:block;width:100%;height:auto;background:#fcfcfc;border:1px solid #eee}
svg .axis{font-size:11px;fill:#555;stroke:none}svg .axis line{stroke:#999}svg .axis line.grid{stroke:#e6e6e6}
.legend{display:flex;flex-wrap:wrap;gap:14px;margin:4px 0 6px;font-size:13px}
.swatch,.dot{display:inline-block;width:14px;height:11px;margin-right:5px;vertical-align:-1px;border-radius:2px}.dot{border-radius:50%;width:10px;height:10px}
table{border-collapse:collapse;margin:6px 0;font-size:13px}th,td{border:1px solid #e2e2e2;padding:3px 8px;text-align:right;vertical-align:top}
thead th{background:#f4f4f4}tbody th{text-align:left}table.quantiles tr.total{font-weight:600;background:#fafafa}
table.windows td,table.kv td,table.excerpt td{text-align:left}table.excerpt code,table.windows code{white-space:pre-wrap;word-break:break-all;font-size:12px}
.check{border-left:5px solid #ccc;padding:4px 10px;margin:10px 0;background:#fafafa}.check.v-fail{border-color:${VERDICT_COLOUR.fail};background:#fdf3f2}.check.v-ok{border-color:${VERDICT_COLOUR.ok}}.check.v-unknown{border-color:${VERDICT_COLOUR.unknown}}
.check p{margin:2px 0}.violations{margin:4px 0;padding-left:22px}.violation{margin:2px 0}.violation .text{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px;white-space:pre-wrap;word-break:break-word}
.line.missing{color:#999}.note{color:#666;font-size:12.5px;margin:4px 0}
tr:target{background:#fff3b0}pre{white-space:pre-wrap;font-size:12px}
`;

/** One self-contained HTML page for a drill run. */
export function renderReport(input: ReportInput): string {
  const results = (isObj(input.results) ? input.results : {}) as Record<string, unknown>;
  const drill = isObj(results.drill) ? results.drill : {};
  const durationMs = num(drill.durationMs);
  const events = Array.isArray(input.events) ? input.events : [];
  const p = parseHistory(events, durationMs);
  const colours = nemesisColours(p.windows);
  const checks = checksOf(results);
  const verdict = overall(checks);
  const known = new Set(events.map((e) => e.index));
  const referenced = checks.flatMap((c) => c.violations.flatMap((v) => v.lines));
  // the excerpt: what a violation names first, then the nemesis's own lines (linked from its table)
  const excerpt = [...referenced, ...p.windows.flatMap((w) => w.lines)];

  const lat = latencyPlot(p, colours);
  const zones = zonesOf(p);
  const lag = lagSeries(results, events);
  const { size: bucketMs } = bucketing(p.tEnd);
  const bucketNote =
    bucketMs === 1000
      ? '1 s buckets'
      : `${bucketMs / 1000} s buckets (a long drill: at most ${MAX_BUCKETS} per plot)`;

  const nemLegend = colours.size
    ? `<div class="legend">${[...colours.entries()]
        .map(
          ([n, c]) =>
            `<span class="key"><span class="swatch" style="background:${c};opacity:.45"></span>${esc(n)}</span>`,
        )
        .join('')}<span class="note">shaded: nemesis windows</span></div>`
    : '';
  const zoneLegend = `<div class="legend">${zones
    .map(
      (z, i) =>
        `<span class="key"><span class="dot" style="background:${ZONE_PALETTE[i % ZONE_PALETTE.length]}"></span>${esc(z)}</span>`,
    )
    .join('')}</div>`;

  const { name: drillName, seed, durationMs: _d, ...drillRest } = drill;
  const title = `${str(drillName) ?? 'drill'} — ${verdict}`;
  const sections: string[] = [];

  sections.push(
    `<header><div><h1>${esc(str(drillName) ?? '(unnamed drill)')}</h1><div class="meta">seed <b>${esc(seed ?? '–')}</b> · duration <b>${durationMs !== undefined ? `${fmt(durationMs / 1000, 2)} s` : `–`}</b> · ${p.ops.length} client operations · ${p.windows.length} nemesis window${p.windows.length === 1 ? '' : 's'} · ${events.length} history lines</div>${Object.keys(drillRest).length ? kvTable(drillRest, 'kv drill') : ''}</div><div class="verdict v-${verdict}" id="verdict">${verdict}</div></header>`,
  );
  if (p.malformed.length)
    sections.push(
      `<p class="note">${p.malformed.length} history line(s) not understood (a completion with no open invoke, or no time): ${p.malformed
        .slice(0, 50)
        .map((i) => esc(i))
        .join(', ')}</p>`,
    );

  sections.push(
    `<section id="latency"><h2>Latency of every client operation</h2>${resultLegend()}${nemLegend}${lat.svg}<p class="note">x: invoke time; y: latency, log scale (an operation never completed: time until the drill's end).${lat.shown < p.ops.length ? ` <b class="downsampled">Downsampled: ${lat.shown} of ${p.ops.length} operations shown</b> (every failed/unknown one while they fit, ok ones evenly strided).` : ''}</p></section>`,
  );
  sections.push(
    `<section id="quantiles"><h2>Latency quantiles per operation</h2>${quantileTable(p)}</section>`,
  );
  sections.push(
    `<section id="throughput"><h2>Throughput</h2>${resultLegend()}${nemLegend}${throughputPlot(p, colours)}<p class="note">Completions per second, ${bucketNote}, stacked by result.</p></section>`,
  );
  sections.push(
    `<section id="availability"><h2>Availability per eZone</h2>${zoneLegend}${nemLegend}${availabilityPlot(p, colours, zones)}<p class="note">ok / completed writes (${[...WRITES].join(', ')}) per bucket by invoke time, attributed to the eZone that answered (or the one the request named); ${bucketNote}; no point where a bucket had no completed write.</p></section>`,
  );
  if (lag) {
    const lagLegend = `<div class="legend">${lag
      .map(
        (l, i) =>
          `<span class="key"><span class="dot" style="background:${ZONE_PALETTE[i % ZONE_PALETTE.length]}"></span>${esc(`${l.from} → ${l.to}`)}</span>`,
      )
      .join('')}</div>`;
    sections.push(
      `<section id="lag"><h2>Replication lag</h2>${lagLegend}${nemLegend}${lagPlot(p, colours, lag)}</section>`,
    );
  }
  sections.push(`<section id="nemesis"><h2>Nemesis windows</h2>${nemesisSection(p, colours)}</section>`);
  sections.push(`<section id="checks"><h2>Checker verdicts</h2>${checksSection(checks, known)}</section>`);
  if (isObj(results.figures))
    sections.push(
      `<section id="figures"><h2>Figures</h2>${kvTable(results.figures, 'kv figures')}</section>`,
    );
  sections.push(
    `<section id="history"><h2>History excerpt</h2><p class="note">The lines a violation names and the nemesis's lines (line = the event's index in history.jsonl).</p>${excerptSection(events, excerpt)}</section>`,
  );

  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body>${sections.join('\n')}
<footer class="note">Generated by ezctl harness/report from history.jsonl and results.json; self-contained (no scripts, no network).</footer>
</body></html>
`;
}
