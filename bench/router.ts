/**
 * bench:router — APIRouter vs nginx vs a direct hit on the same upstream, side by side in one run.
 *
 * - upstream: a tiny node:http server (its own process) answering 11 bytes of JSON, keep-alive.
 * - APIRouter: `dist/src/router/main.js` as its own process, one process (one core at most), static
 *   table (no GZS needed), every eZone's upstream = the tiny server, default settings otherwise.
 * - nginx (Debian): its own config in a temp dir, `worker_processes 1`, plain keep-alive
 *   `proxy_pass` to the same upstream (`keepalive 64`, HTTP/1.1, `Connection ""`), access log off.
 * - saturation: `wrk -t1 -c64 -d<S>s` with `X-Ez-Route: geo=39.9042,116.4074` on every request,
 *   for each target in turn, ROUNDS times interleaved (direct, nginx, router, …); medians reported.
 *   CPU per request of each proxy process comes from /proc/<pid>/stat (user + system time).
 * - latency added at 5,000 req/s: wrk2 is not packaged, so an open-loop generator here paces
 *   requests on a 1 ms timer (5 per tick) over an undici Pool, never waiting for answers, and times
 *   each from its dispatch to the end of its answer; 2 s of warm-up at the same rate on the same
 *   connections, then the measured seconds; p99 through the router minus p99 direct, same
 *   generator, same rate, alternating runs; medians of the rounds. Then once more with each proxy
 *   pinned to CPU 1 and the generator and upstream to CPU 0 (taskset): `…Pinned` fields.
 *
 * Prints one JSON line: {"ezRps","nginxRps","directRps","ratioVsNginx","p99OverheadMsAt5k", …details}.
 * BENCH_SECONDS (default 10), BENCH_ROUNDS (default 3) and BENCH_RATE (default 5000) tune it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Dispatcher, Pool, request } from 'undici';
import { freePorts } from '../src/util/net.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const RATE = Number(process.env.BENCH_RATE ?? 5000);
const TAG = 'geo=39.9042,116.4074';
const WRK = ['-t1', '-c64', `-d${SECONDS}s`, '-H', `X-Ez-Route: ${TAG}`];

const UPSTREAM = `
import { createServer } from 'node:http';
const body = Buffer.from('{"ok":true}');
const s = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
s.keepAliveTimeout = 65000;
s.listen(Number(process.argv[1]), '127.0.0.1');
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitHttp(url: string, what: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    try {
      const r = await request(url, { headers: { 'X-Ez-Route': TAG } });
      await r.body.dump();
      if (r.statusCode === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${what} did not answer ${url}`);
    await sleep(50);
  }
}

/** user + system CPU seconds of a pid so far */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (b) => {
      out += b;
    });
    c.stderr.on('data', (b) => {
      out += b;
    });
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${out}`))));
  });
}

interface WrkResult {
  rps: number;
  requests: number;
  non2xx: number;
  cpuUsPerRequest?: number;
}

async function wrk(url: string, cpuPid?: number): Promise<WrkResult> {
  const cpu0 = cpuPid ? cpuSeconds(cpuPid) : 0;
  const out = await run('wrk', [...WRK, url]);
  const cpu1 = cpuPid ? cpuSeconds(cpuPid) : 0;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  if (!Number.isFinite(rps)) throw new Error(`cannot read wrk output: ${out}`);
  const r: WrkResult = { rps, requests, non2xx };
  if (cpuPid) r.cpuUsPerRequest = round(((cpu1 - cpu0) * 1e6) / requests, 1);
  return r;
}

/** One open-loop request: timed from dispatch to the end of the answer (undici's legacy handler form). */
class Timed implements Dispatcher.DispatchHandler {
  private readonly t0 = performance.now();
  private status = 0;
  constructor(private readonly done: (ms: number, ok: boolean) => void) {}
  onConnect(): void {}
  onHeaders(status: number): boolean {
    this.status = status;
    return true;
  }
  onData(): boolean {
    return true;
  }
  onComplete(): void {
    this.done(performance.now() - this.t0, this.status === 200);
  }
  onError(): void {
    this.done(performance.now() - this.t0, false);
  }
}

interface OpenLoopResult {
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  achievedRate: number;
  errors: number;
  /** worst delay of a dispatch behind its schedule (the generator's own lag) */
  maxLagMs: number;
}

/** Send `rate` requests per second for `seconds` over `pool`, never waiting for answers; latencies in ms. */
async function pace(pool: Pool, rate: number, seconds: number) {
  const total = Math.round(rate * seconds);
  const lat = new Float64Array(total);
  let sent = 0;
  let finished = 0;
  let errors = 0;
  let maxLag = 0;
  const opts = { path: '/', method: 'GET' as const, headers: ['x-ez-route', TAG] };
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const record = (ms: number, ok: boolean) => {
      lat[finished++] = ms;
      if (!ok) errors++;
      if (finished === total) resolve();
    };
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - t0) * rate) / 1000) + 1);
      if (sent < due) maxLag = Math.max(maxLag, now - (t0 + (sent * 1000) / rate));
      while (sent < due) {
        pool.dispatch(opts, new Timed(record));
        sent++;
      }
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
  return { lat, errors, maxLag, elapsed: (performance.now() - t0) / 1000, total };
}

/**
 * Open-loop latency at a fixed rate: 2 s of warm-up at the same rate on the same pool (connections
 * opened, JIT warm, on every hop), then `seconds` measured.
 */
async function openLoop(origin: string, rate: number, seconds: number): Promise<OpenLoopResult> {
  const pool = new Pool(origin, { connections: 64, pipelining: 1 });
  await pace(pool, rate, 2);
  const { lat, errors, maxLag, elapsed, total } = await pace(pool, rate, seconds);
  await pool.close();
  const sorted = Array.from(lat).sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  return {
    p50Ms: round(q(0.5), 3),
    p99Ms: round(q(0.99), 3),
    p999Ms: round(q(0.999), 3),
    maxMs: round(sorted[sorted.length - 1], 3),
    achievedRate: Math.round(total / elapsed),
    errors,
    maxLagMs: round(maxLag, 2),
  };
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function nginxConfig(dir: string, listen: number, upstream: number): string {
  return `worker_processes 1;
daemon off;
error_log ${dir}/nginx-error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream app { server 127.0.0.1:${upstream}; keepalive 64; }
  server {
    listen 127.0.0.1:${listen};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

function workerPid(masterPid: number): number {
  const kids = readFileSync(`/proc/${masterPid}/task/${masterPid}/children`, 'utf8').trim().split(/\s+/);
  if (kids.length !== 1 || !kids[0]) throw new Error(`nginx: expected one worker, found "${kids.join(' ')}"`);
  return Number(kids[0]);
}

const dir = mkdtempSync(join(tmpdir(), 'ez-bench-router-'));
const children: ChildProcess[] = [];
const start = (cmd: string, args: string[], logName: string): ChildProcess => {
  // output straight to a file in the temp dir (a full access log is tens of MB per run)
  const fd = openSync(join(dir, logName), 'a');
  const c = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: { ...process.env, EZ_LOG_LEVEL: 'warn' } });
  closeSync(fd);
  children.push(c);
  return c;
};

try {
  const [upPort, nginxPort, routerPort, fullLogPort] = await freePorts(4);
  const upstream = start(
    process.execPath,
    ['--input-type=module', '-e', UPSTREAM, String(upPort)],
    'upstream.log',
  );
  const direct = `http://127.0.0.1:${upPort}/`;
  await waitHttp(direct, 'upstream', upstream);

  writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, nginxPort, upPort));
  const nginx = start('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], 'nginx.log');
  const viaNginx = `http://127.0.0.1:${nginxPort}/`;
  await waitHttp(viaNginx, 'nginx', nginx);
  const nginxWorker = workerPid(nginx.pid!);

  const main = fileURLToPath(new URL('../src/router/main.js', import.meta.url));
  const routerArgs = [main, '--static', '--port', String(routerPort)];
  for (const z of ['ez-bj', 'ez-sh']) routerArgs.push('--upstream', `${z}=http://127.0.0.1:${upPort}`);
  const router = start(process.execPath, routerArgs, 'router.log');
  const viaRouter = `http://127.0.0.1:${routerPort}/`;
  await waitHttp(viaRouter, 'APIRouter', router);
  // the same router logging every request (default: every error, 1% of successes): its cost
  const fullLogArgs = routerArgs.map((a) => (a === String(routerPort) ? String(fullLogPort) : a));
  const fullLog = start(
    process.execPath,
    [...fullLogArgs, '--access-log-sample', '1'],
    'router-full-log.log',
  );
  const viaFullLog = `http://127.0.0.1:${fullLogPort}/`;
  await waitHttp(viaFullLog, 'APIRouter (full access log)', fullLog);

  // warm-up: JIT, connection pools
  for (const url of [direct, viaNginx, viaRouter, viaFullLog])
    await run('wrk', ['-t1', '-c64', '-d2s', '-H', `X-Ez-Route: ${TAG}`, url]);

  const rounds: { direct: WrkResult; nginx: WrkResult; router: WrkResult }[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    rounds.push({
      direct: await wrk(direct, upstream.pid),
      nginx: await wrk(viaNginx, nginxWorker),
      router: await wrk(viaRouter, router.pid),
    });
  }
  const fullLogRun = await wrk(viaFullLog, fullLog.pid);
  const failed = rounds.flatMap((r) => [r.direct, r.nginx, r.router]).filter((r) => r.non2xx > 0);
  if (failed.length > 0) throw new Error(`non-2xx answers during the run: ${JSON.stringify(failed)}`);

  type LatRound = { direct: OpenLoopResult; router: OpenLoopResult; nginx: OpenLoopResult };
  const latencyRounds = async (): Promise<LatRound[]> => {
    const out: LatRound[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      out.push({
        direct: await openLoop(direct.slice(0, -1), RATE, SECONDS),
        router: await openLoop(viaRouter.slice(0, -1), RATE, SECONDS),
        nginx: await openLoop(viaNginx.slice(0, -1), RATE, SECONDS),
      });
    }
    return out;
  };
  const lat = await latencyRounds();
  // The same again with the proxies on a core of their own (CPU 1) and the generator and the
  // upstream on the other (CPU 0): what each proxy adds without run-queue waits behind the
  // generator on a 2-core machine. Both proxies get the same placement.
  let pinned: LatRound[] | undefined;
  if (
    cpus().length >= 2 &&
    (await run('taskset', ['-V']).then(
      () => true,
      () => false,
    ))
  ) {
    const pin = (cpu: string, pids: number[]) =>
      Promise.all(pids.map((p) => run('taskset', ['-a', '-cp', cpu, String(p)])));
    const proxies = [router.pid!, nginxWorker];
    const rest = [process.pid, upstream.pid!];
    await pin('1', proxies);
    await pin('0', rest);
    try {
      pinned = await latencyRounds();
    } finally {
      await pin('0-1', [...proxies, ...rest]);
    }
  }

  const ezRps = median(rounds.map((r) => r.router.rps));
  const nginxRps = median(rounds.map((r) => r.nginx.rps));
  const directRps = median(rounds.map((r) => r.direct.rps));
  const p99 = (k: 'direct' | 'router' | 'nginx') => median(lat.map((l) => l[k].p99Ms));
  const result = {
    ezRps: Math.round(ezRps),
    nginxRps: Math.round(nginxRps),
    directRps: Math.round(directRps),
    ratioVsNginx: round(ezRps / nginxRps, 3),
    p99OverheadMsAt5k: round(p99('router') - p99('direct'), 3),
    p99MsAt5k: { direct: p99('direct'), router: p99('router'), nginx: p99('nginx') },
    ...(pinned
      ? (() => {
          const pp = (k: 'direct' | 'router' | 'nginx') => median(pinned.map((l) => l[k].p99Ms));
          return {
            p99OverheadMsAt5kPinned: round(pp('router') - pp('direct'), 3),
            p99MsAt5kPinned: { direct: pp('direct'), router: pp('router'), nginx: pp('nginx') },
          };
        })()
      : {}),
    p50MsAt5k: {
      direct: median(lat.map((l) => l.direct.p50Ms)),
      router: median(lat.map((l) => l.router.p50Ms)),
      nginx: median(lat.map((l) => l.nginx.p50Ms)),
    },
    nginxP99OverheadMsAt5k: round(p99('nginx') - p99('direct'), 3),
    cpuUsPerRequest: {
      router: median(rounds.map((r) => r.router.cpuUsPerRequest!)),
      nginx: median(rounds.map((r) => r.nginx.cpuUsPerRequest!)),
      upstream: median(rounds.map((r) => r.direct.cpuUsPerRequest!)),
    },
    accessLogEveryRequest: {
      rps: Math.round(fullLogRun.rps),
      cpuUsPerRequest: fullLogRun.cpuUsPerRequest,
      note: 'one wrk run of the router with --access-log-sample 1 (default: errors + 1% of successes)',
    },
    method: {
      saturation: `wrk ${WRK.slice(0, 3).join(' ')}, tag header on every request, ${ROUNDS} interleaved rounds, medians`,
      fixedRate: `open-loop undici generator at ${RATE}/s, 2s warm-up then ${SECONDS}s measured per target, ${ROUNDS} alternating rounds, medians of p99; *Pinned: proxy on CPU 1, generator and upstream on CPU 0`,
      processes: 'APIRouter 1 process; nginx 1 worker; upstream 1 node process',
      cores: cpus().length,
    },
    rounds: rounds.map((r) => ({ direct: r.direct.rps, nginx: r.nginx.rps, router: r.router.rps })),
    latencyRounds: lat,
    latencyRoundsPinned: pinned,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  for (const c of children.reverse()) {
    if (c.exitCode === null) {
      c.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(() => {
          c.kill('SIGKILL');
          r(undefined);
        }, 10_000);
        c.once('exit', () => {
          clearTimeout(t);
          r(undefined);
        });
      });
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
