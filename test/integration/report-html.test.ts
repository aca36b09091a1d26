/**
 * report.html in a real browser: a synthetic drill (two eZones, a partition window and a failover
 * action, fails and infos, one failing checker, user data that looks like HTML) is rendered to a
 * temporary run directory and opened in headless Chromium, driven over the Chrome DevTools
 * Protocol with the `ws` package (the browser's own WebSocket endpoint; no puppeteer). The page
 * must load with no console error, no exception and no network request besides itself; every plot
 * must have drawn marks; the failing checker's violation must be visible and link to the history
 * excerpt; a screenshot must be a real (non-blank) image.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ClientEvent, HistoryEvent, NemesisEvent } from '../../harness/history/events.js';
import { MAX_SCATTER_POINTS, renderReport, writeReport } from '../../harness/report/index.js';

const CHROMIUM = '/usr/bin/chromium';
const EVIL = '<script>alert(1)</script><img src=x onerror="alert(2)">';

// --- a synthetic drill ----------------------------------------------------------------------------

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Synthetic {
  events: HistoryEvent[];
  results: Record<string, unknown>;
  /** the history line the failing checker names */
  lostAt: number;
  violation: string;
}

function synthetic(nOps: number, durationMs = 20_000, seed = 7): Synthetic {
  const rnd = mulberry32(seed);
  // loosely typed while built; every entry is a client or nemesis event without index/wall
  const raw: (Record<string, unknown> & { time: number })[] = [];
  const partition = { from: 6_000, to: 12_000 };
  // nemesis: a partition ez1 | ez2 (start → stop) and a failover action
  const nem = (time: number, type: NemesisEvent['type'], f: NemesisEvent['f'], nemesis: string, extra = {}) =>
    raw.push({ time, type, f, nemesis, process: 'nemesis', value: { zones: ['ez1', 'ez2'] }, ...extra });
  nem(partition.from, 'invoke', 'start', 'partition');
  nem(partition.from + 40, 'ok', 'start', 'partition', { result: { cut: 'ez1|ez2' } });
  nem(partition.to - 30, 'invoke', 'stop', 'partition');
  nem(partition.to, 'ok', 'stop', 'partition');
  nem(14_000, 'invoke', 'action', 'failover', { value: { shard: 3, to: 'ez1' } });
  nem(15_500, 'ok', 'action', 'failover', { value: { shard: 3, to: 'ez1' }, result: { rtoMs: 1500 } });

  const fs: ClientEvent['f'][] = ['create', 'accept', 'pickup', 'deliver', 'read'];
  for (let i = 0; i < nOps; i++) {
    const t = (i / nOps) * (durationMs - 200) + rnd() * 50;
    const zone = rnd() < 0.5 ? 'ez1' : 'ez2';
    const f = fs[Math.floor(rnd() * fs.length)];
    const inPartition = t >= partition.from && t < partition.to && zone === 'ez2';
    const roll = rnd();
    const type: ClientEvent['type'] = inPartition
      ? roll < 0.6
        ? 'fail'
        : roll < 0.85
          ? 'info'
          : 'ok'
      : roll < 0.03
        ? 'fail'
        : roll < 0.04
          ? 'info'
          : 'ok';
    const ms =
      type === 'info'
        ? 1000 + rnd() * 2000
        : type === 'fail'
          ? 2 + rnd() * 30
          : 1 + rnd() ** 3 * (inPartition ? 400 : 60);
    const process = i; // one process per operation: no overlap to reason about
    const value = { tag: `t${i % 17}`, orderId: `o-${i}`, user: i === 5 ? EVIL : `u${i % 40}`, zone };
    raw.push({ time: t, type: 'invoke', process, f, value });
    raw.push({
      time: t + ms,
      type,
      process,
      f,
      value,
      zone,
      ms: Math.round(ms * 1000) / 1000,
      ...(type === 'ok' ? { orderId: `o-${i}`, state: 'created', status: 200 } : {}),
      ...(type === 'fail' ? { error: 'EZ_UNAVAILABLE', status: 503, detail: EVIL } : {}),
      ...(type === 'info' ? { error: 'EZ_CLIENT_TIMEOUT' } : {}),
    });
  }
  raw.sort((a, b) => a.time - b.time);
  const events = raw.map((e, index) => ({
    ...e,
    index,
    wall: 1_790_000_000_000 + e.time,
  })) as unknown as HistoryEvent[];
  const lost = events.find(
    (e) => e.process !== 'nemesis' && e.type === 'ok' && e.f === 'create' && e.time > partition.from,
  ) as ClientEvent;
  const violation = `order ${lost.orderId} acknowledged at history line ${lost.index} is missing in ez2 ${EVIL}`;
  const lagSamples = (base: number): [number, number][] =>
    Array.from({ length: 40 }, (_, k) => {
      const t = k * 500;
      return [t, base + (t >= partition.from && t < partition.to ? (t - partition.from) / 4 : rnd() * 5)];
    });
  const results = {
    drill: { name: `partition-ez1-ez2 ${EVIL}`, seed, durationMs, zones: ['ez1', 'ez2'] },
    checks: {
      noLostOrder: { verdict: 'fail', ok: false, checked: 180, violations: [violation] },
      validLifecycle: { verdict: 'ok', ok: true, checked: 180, violations: [] },
      routingCorrectness: {
        verdict: 'unknown',
        ok: false,
        checked: 0,
        reason: 'GZS history not readable',
        violations: [],
      },
    },
    figures: { opsPerSec: Math.round(nOps / (durationMs / 1000)), note: EVIL },
    lag: [
      { from: 'ez1', to: 'ez2', samples: lagSamples(3) },
      { from: 'ez2', to: 'ez1', samples: lagSamples(5) },
    ],
  };
  return { events, results, lostAt: lost.index, violation };
}

// --- a minimal CDP client over the browser's WebSocket ------------------------------------------

interface CdpEvent {
  method: string;
  params: any;
}

class Cdp {
  private id = 0;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  readonly events: CdpEvent[] = [];
  private readonly waiters: { method: string; resolve: (p: any) => void }[] = [];

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data));
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(`${msg.error.message} (${msg.error.code})`));
        else p?.resolve(msg.result);
        return;
      }
      this.events.push({ method: msg.method, params: msg.params });
      for (let i = this.waiters.length - 1; i >= 0; i--)
        if (this.waiters[i].method === msg.method) this.waiters.splice(i, 1)[0].resolve(msg.params);
    });
  }

  static connect(url: string): Promise<Cdp> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
      ws.once('open', () => resolve(new Cdp(ws)));
      ws.once('error', reject);
    });
  }

  send<T = any>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.id;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  once(method: string, timeoutMs = 15_000): Promise<any> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${method} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        method,
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
      });
    });
  }

  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send('Runtime.evaluate', { expression, returnByValue: true });
    if (r.exceptionDetails) throw new Error(`evaluate: ${JSON.stringify(r.exceptionDetails)}`);
    return r.result.value as T;
  }

  close(): void {
    this.ws.close();
  }
}

async function waitFor<T>(what: string, f: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// --- a minimal PNG decoder (8-bit RGB/RGBA, no interlace): enough to tell a blank image -----------

function decodePng(buf: Buffer): { width: number; height: number; channels: number; pixels: Buffer } {
  expect(buf.subarray(0, 8).equals(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]))).toBe(true);
  let off = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const depth = data[8];
      const colour = data[9];
      expect(depth).toBe(8);
      expect(data[12]).toBe(0); // no interlace
      channels = colour === 6 ? 4 : colour === 2 ? 3 : colour === 0 ? 1 : colour === 4 ? 2 : 0;
      expect(channels).toBeGreaterThan(0);
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = pixels.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? pixels.subarray((y - 1) * stride, y * stride) : Buffer.alloc(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? out[i - channels] : 0;
      const b = prev[i];
      const c = i >= channels ? prev[i - channels] : 0;
      let v = line[i];
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      out[i] = v & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

// --- the browser ----------------------------------------------------------------------------------

let tmp: string;
let browser: ChildProcess | null = null;
let cdp: Cdp | null = null;
let drill: Synthetic;
let runDir: string;

async function startChromium(): Promise<Cdp> {
  const profile = join(tmp, 'profile');
  // detached: its own process group, so teardown ends exactly the processes it started
  browser = spawn(
    CHROMIUM,
    [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-extensions',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-crash-reporter',
      '--disable-breakpad',
      '--no-first-run',
      '--no-default-browser-check',
      '--hide-scrollbars',
      '--mute-audio',
      '--remote-debugging-port=0',
      `--user-data-dir=${profile}`,
      '--window-size=1200,900',
      'about:blank',
    ],
    { detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  browser.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  const wsUrl = await waitFor('chromium DevTools endpoint', () => {
    if (browser?.exitCode !== null) throw new Error(`chromium exited: ${stderr.slice(-2000)}`);
    return /DevTools listening on (ws:\/\/\S+)/.exec(stderr)?.[1];
  });
  const port = new URL(wsUrl).port;
  // the page target about:blank opened
  let page: string | undefined;
  for (let i = 0; i < 100 && !page; i++) {
    const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
      type: string;
      webSocketDebuggerUrl: string;
    }[];
    page = list.find((t) => t.type === 'page')?.webSocketDebuggerUrl;
    if (!page) await new Promise((r) => setTimeout(r, 100));
  }
  if (!page) throw new Error('chromium opened no page');
  return Cdp.connect(page);
}

async function stopChromium(): Promise<void> {
  const b = browser;
  browser = null;
  if (cdp) {
    await Promise.race([cdp.send('Browser.close').catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
    cdp.close();
    cdp = null;
  }
  if (!b?.pid) return;
  const exited = b.exitCode !== null ? Promise.resolve() : new Promise((r) => b.once('exit', r));
  await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  // the group the browser leads (renderers, zygote): by its id, SIGTERM then SIGKILL
  for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
    try {
      process.kill(-b.pid, sig);
    } catch {
      return; // group gone
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('report.html in headless Chromium', () => {
  let loaded: { url: string };

  beforeAll(async () => {
    // not a skip: a machine without the browser fails here, saying how to get it
    if (!existsSync(CHROMIUM))
      throw new Error(`${CHROMIUM} missing: scripts/setup.sh installs the Debian package chromium`);
    tmp = mkdtempSync(join(tmpdir(), 'ez-report-'));
    runDir = join(tmp, 'runs', 'partition', '2026-01-01T00-00-00Z');
    mkdirSync(runDir, { recursive: true });
    drill = synthetic(400);
    writeFileSync(join(runDir, 'history.jsonl'), drill.events.map((e) => `${JSON.stringify(e)}\n`).join(''));
    writeFileSync(join(runDir, 'results.json'), JSON.stringify(drill.results, null, 2));
    const file = writeReport(runDir);
    cdp = await startChromium();
    await Promise.all([
      cdp.send('Page.enable'),
      cdp.send('Runtime.enable'),
      cdp.send('Log.enable'),
      cdp.send('Network.enable'),
    ]);
    await cdp.send('Emulation.setDeviceMetricsOverride', {
      width: 1100,
      height: 900,
      deviceScaleFactor: 1,
      mobile: false,
    });
    const url = `file://${file}`;
    const load = cdp.once('Page.loadEventFired');
    const nav = await cdp.send('Page.navigate', { url });
    expect(nav.errorText).toBeUndefined();
    await load;
    loaded = { url };
  });

  afterAll(async () => {
    await stopChromium();
    // EZ_REPORT_KEEP=<dir>: keep report.html and its screenshot for a human to look at
    const keep = process.env.EZ_REPORT_KEEP;
    if (keep && runDir && existsSync(join(runDir, 'report.html'))) cpSync(runDir, keep, { recursive: true });
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('loads with no console error, no exception, no dialog and no request but the page itself', async () => {
    const ev = cdp!.events;
    const errors = ev.filter(
      (e) =>
        (e.method === 'Runtime.consoleAPICalled' && ['error', 'assert'].includes(e.params.type)) ||
        e.method === 'Runtime.exceptionThrown' ||
        (e.method === 'Log.entryAdded' && e.params.entry.level === 'error'),
    );
    expect(errors.map((e) => JSON.stringify(e.params).slice(0, 300))).toEqual([]);
    expect(ev.filter((e) => e.method === 'Network.loadingFailed').map((e) => e.params)).toEqual([]);
    const requested = ev
      .filter((e) => e.method === 'Network.requestWillBeSent')
      .map((e) => e.params.request.url);
    expect(requested).toEqual([loaded.url]);
    expect(ev.filter((e) => e.method === 'Page.javascriptDialogOpening')).toEqual([]);
    // the user data that looks like HTML stayed text: no script, no injected image
    const dom = await cdp!.evaluate<{ scripts: number; imgs: number; text: boolean; title: string }>(`({
      scripts: document.querySelectorAll('script').length,
      imgs: document.querySelectorAll('img').length,
      text: document.body.innerText.includes(${JSON.stringify(EVIL)}),
      title: document.title,
    })`);
    expect(dom).toMatchObject({ scripts: 0, imgs: 0, text: true });
    expect(dom.title).toContain('fail');
  });

  it('draws every plot: marks in each SVG, nemesis windows shaded behind each', async () => {
    const plots = await cdp!.evaluate<Record<string, Record<string, number>>>(`(() => {
      const out = {};
      for (const svg of document.querySelectorAll('svg[data-plot]')) {
        const m = svg.querySelector('g.marks');
        const r = svg.getBoundingClientRect();
        out[svg.dataset.plot] = {
          circle: m ? m.querySelectorAll('circle').length : 0,
          rect: m ? m.querySelectorAll('rect').length : 0,
          path: m ? m.querySelectorAll('path').length : 0,
          nemesis: svg.querySelectorAll('g.nemesis rect').length,
          width: r.width, height: r.height,
        };
      }
      return out;
    })()`);
    expect(Object.keys(plots).sort()).toEqual(['availability', 'lag', 'latency', 'throughput']);
    expect(plots.latency.circle).toBe(400); // every operation, not downsampled
    expect(plots.throughput.rect).toBeGreaterThan(20); // 20 one-second buckets, stacked
    expect(plots.availability.path).toBe(2); // one line per eZone
    expect(plots.availability.circle).toBeGreaterThan(30);
    expect(plots.lag.path).toBe(2); // one per direction
    expect(plots.lag.circle).toBe(80);
    for (const [name, p] of Object.entries(plots)) {
      expect(p.nemesis, name).toBe(2); // the partition window and the failover action
      expect(p.width, name).toBeGreaterThan(500);
      expect(p.height, name).toBeGreaterThan(100);
    }
    // the failures of the partition are there, in their colour
    const coloured = await cdp!.evaluate<Record<string, number>>(`({
      fail: document.querySelectorAll('svg[data-plot=latency] g.r-fail circle').length,
      info: document.querySelectorAll('svg[data-plot=latency] g.r-info circle').length,
      legend: document.querySelectorAll('.legend .swatch').length,
    })`);
    expect(coloured.fail).toBeGreaterThan(5);
    expect(coloured.info).toBeGreaterThan(3);
    expect(coloured.legend).toBeGreaterThanOrEqual(2);
  });

  it('shows the overall verdict, the quantiles and the failing checker with its evidence linked', async () => {
    const r = await cdp!.evaluate<any>(`(() => {
      const v = document.querySelector('#verdict');
      const fail = document.querySelector('.check.v-fail');
      const li = fail && fail.querySelector('.violation');
      const a = li && li.querySelector('a.line');
      const target = a && document.querySelector(a.getAttribute('href'));
      const box = li ? li.getBoundingClientRect() : null;
      const style = li ? getComputedStyle(li) : null;
      return {
        verdict: v && v.textContent,
        checks: [...document.querySelectorAll('.check')].map((c) => c.id + ':' + c.className),
        violation: li && li.querySelector('.text').textContent,
        visible: !!box && box.width > 0 && box.height > 0 && style.visibility !== 'hidden' && style.display !== 'none',
        href: a && a.getAttribute('href'),
        target: target && target.textContent,
        quantileRows: [...document.querySelectorAll('table.quantiles tbody tr th')].map((t) => t.textContent),
      };
    })()`);
    expect(r.verdict).toBe('fail');
    expect(r.checks).toEqual([
      'check-noLostOrder:check v-fail',
      'check-validLifecycle:check v-ok',
      'check-routingCorrectness:check v-unknown',
    ]);
    expect(r.violation).toBe(drill.violation);
    expect(r.visible).toBe(true);
    expect(r.href).toBe(`#h-${drill.lostAt}`);
    expect(r.target).toContain(`"index":${drill.lostAt}`);
    // every in-page link lands on something (violation lines, nemesis lines)
    const dangling = await cdp!.evaluate<string[]>(
      `[...document.querySelectorAll('a[href^="#"]')].map((a) => a.getAttribute('href')).filter((h) => !document.querySelector(h))`,
    );
    expect(dangling).toEqual([]);
    expect(r.quantileRows).toEqual(['accept', 'create', 'deliver', 'pickup', 'read', 'all']);
  });

  it('screenshots to a non-blank PNG', async () => {
    const shot = await cdp!.send<{ data: string }>('Page.captureScreenshot', {
      format: 'png',
      captureBeyondViewport: true,
    });
    const png = Buffer.from(shot.data, 'base64');
    writeFileSync(join(runDir, 'report.png'), png);
    expect(png.length).toBeGreaterThan(30_000);
    const img = decodePng(png);
    expect(img.width).toBeGreaterThanOrEqual(1000);
    const colours = new Set<number>();
    const px = (x: number, y: number) => {
      const o = (y * img.width + x) * img.channels;
      return (img.pixels[o] << 16) | (img.pixels[o + 1] << 8) | img.pixels[o + 2];
    };
    for (let y = 0; y < img.height; y += 3) for (let x = 0; x < img.width; x += 3) colours.add(px(x, y));
    expect(colours.size).toBeGreaterThan(50);
    // the top region (header) and a plot region differ
    const region = (y0: number) => {
      let s = 0;
      for (let y = y0; y < y0 + 60; y++) for (let x = 0; x < img.width; x++) s = (s * 31 + px(x, y)) >>> 0;
      return s;
    };
    expect(region(0)).not.toBe(region(300));
    // the file itself stays small for 400 operations
    expect(statSync(join(runDir, 'report.html')).size).toBeLessThan(400_000);
    process.stdout.write(
      `report.html ${statSync(join(runDir, 'report.html')).size} B, screenshot ${png.length} B (${img.width}×${img.height}, ${colours.size} colours sampled)\n`,
    );
  });
});

describe('renderReport without a browser', () => {
  it('downsamples a scatter of more than 20,000 operations and says so', () => {
    const big = synthetic(25_000, 60_000, 3);
    const html = renderReport({ events: big.events, results: big.results });
    const scatter = /<svg data-plot="latency"[\s\S]*?<\/svg>/.exec(html)![0];
    expect((scatter.match(/<circle/g) ?? []).length).toBe(MAX_SCATTER_POINTS);
    expect(html).toMatch(/Downsampled: 20000 of 25000 operations shown/);
    expect(html.length).toBeLessThan(3_000_000);
  });

  it('renders what exists: no figures, no lag, no checks → verdict unknown, no lag plot', () => {
    const s = synthetic(50);
    const html = renderReport({ events: s.events, results: { drill: { name: 'bare' } } });
    expect(html).toContain('id="verdict">unknown<');
    expect(html).not.toContain('data-plot="lag"');
    expect(html).toContain('data-plot="latency"');
    expect(html).not.toMatch(/<script|https?:\/\//i);
  });

  it('writeReport reads a run directory and writes report.html next to it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ez-report-w-'));
    try {
      const s = synthetic(30);
      writeFileSync(join(dir, 'history.jsonl'), s.events.map((e) => JSON.stringify(e)).join('\n'));
      writeFileSync(join(dir, 'results.json'), JSON.stringify(s.results));
      const out = writeReport(dir);
      expect(out).toBe(join(dir, 'report.html'));
      const html = readFileSync(out, 'utf8');
      expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
      expect(html).not.toContain(EVIL);
      expect(html).toContain(`id="h-${s.lostAt}"`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
