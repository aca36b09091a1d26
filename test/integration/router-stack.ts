/**
 * The traffic stack of the two-zones topology as real processes, on free ports in a private
 * directory: MariaDB + Redis per eZone (test/helpers), GZS (src/gzs/testkit.ts), and from this
 * build the order service and SOA Proxy per eZone and one APIRouter (src/router/testkit.ts).
 * Used by the router-, soa- and orders- integration tests (not a test file itself).
 */
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { request } from 'undici';
import { GzsApi } from '../../src/gzs/api.js';
import { type GzsProcess, startGzsProcess } from '../../src/gzs/testkit.js';
import { type PartProcess, startPartProcess } from '../../src/router/testkit.js';
import { loadTopology, type Topology } from '../../src/topology/index.js';
import { tempDir } from '../helpers/run-dir.js';
import { type MariaDBService, type Service, startMariaDB, startRedis } from '../helpers/services.js';
import { writeFreePortTopology } from '../helpers/zone-cluster.js';

export const BEIJING = 'geo=39.9042,116.4074';
export const SHANGHAI = 'geo=31.2304,121.4737';
export const HANGZHOU = 'geo=30.2741,120.1551';

export interface TrafficStack {
  dir: string;
  topology: Topology;
  topologyFile: string;
  zones: string[];
  dbs: Record<string, MariaDBService>;
  redis: Record<string, Service>;
  gzs: GzsProcess;
  api: GzsApi;
  apps: Record<string, PartProcess>;
  soas: Record<string, PartProcess>;
  router: PartProcess;
  /** start one more part process with the stack's defaults plus `extra` args */
  startPart(
    part: 'router' | 'soa' | 'orders',
    zone: string | undefined,
    port: number,
    extra?: string[],
  ): Promise<PartProcess>;
  /** a query on an eZone's MariaDB as the app user */
  query<T = any>(zone: string, sql: string, params?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** extra args per SOA Proxy (e.g. `--peer ez-sh=<link>`) */
  soaArgs?: (zone: string) => string[];
  routerArgs?: string[];
  /** runs once the topology is written, before the SOA Proxies start (e.g. to create links) */
  beforeSoa?: (topologyFile: string) => Promise<void>;
}

export async function startTrafficStack(opts: StackOptions = {}): Promise<TrafficStack> {
  const dir = tempDir('traffic');
  const topologyFile = await writeFreePortTopology(dir);
  const topology = loadTopology(topologyFile);
  const zones = topology.zones.map((z) => z.id);
  const started: { stop(): Promise<void> }[] = [];
  const stopAll = async () => {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
  };
  try {
    const dbs: Record<string, MariaDBService> = {};
    const redis: Record<string, Service> = {};
    await Promise.all(
      topology.zones.map(async (z) => {
        dbs[z.id] = await startMariaDB({ serverId: z.serverId, database: topology.database });
        started.push(dbs[z.id]);
        redis[z.id] = await startRedis();
        started.push(redis[z.id]);
      }),
    );
    const gzs = await startGzsProcess({
      store: `file:${join(dir, 'gzs', 'table.json')}`,
      logFile: join(dir, 'gzs', 'gzs.log'),
      topology: topologyFile,
    });
    started.push(gzs);
    const api = new GzsApi(gzs.url, { token: gzs.token, actor: 'router-test' });

    const startPart = async (
      part: 'router' | 'soa' | 'orders',
      zone: string | undefined,
      port: number,
      extra: string[] = [],
    ) => {
      const name = `${part}${zone ? `-${zone}` : ''}-${port}`;
      const args = ['--topology', topologyFile, '--port', String(port), '--gzs', gzs.url];
      args.push('--cache-file', join(dir, name, 'routing-cache.json'));
      if (zone) args.push('--zone', zone);
      const p = await startPartProcess({
        part,
        args: [...args, ...extra],
        logFile: join(dir, name, `${part}.log`),
      });
      started.push(p);
      return p;
    };

    const apps: Record<string, PartProcess> = {};
    await Promise.all(
      zones.map(async (z) => {
        apps[z] = await startPart('orders', z, topology.deployment.zones[z].ports.orders, [
          '--mysql',
          `127.0.0.1:${dbs[z].port}`,
          '--redis',
          `127.0.0.1:${redis[z].port}`,
        ]);
      }),
    );
    await opts.beforeSoa?.(topologyFile);
    const soas: Record<string, PartProcess> = {};
    await Promise.all(
      zones.map(async (z) => {
        soas[z] = await startPart('soa', z, topology.deployment.zones[z].ports.soa, opts.soaArgs?.(z) ?? []);
      }),
    );
    const router = await startPart(
      'router',
      undefined,
      topology.deployment.router.port,
      opts.routerArgs ?? [],
    );

    const pools = new Map<string, mysql.Pool>();
    return {
      dir,
      topology,
      topologyFile,
      zones,
      dbs,
      redis,
      gzs,
      api,
      apps,
      soas,
      router,
      startPart,
      async query(zone, sql, params = []) {
        let pool = pools.get(zone);
        if (!pool) {
          pool = mysql.createPool({
            ...dbs[zone].app,
            supportBigNumbers: true,
            bigNumberStrings: true,
            dateStrings: true,
            connectionLimit: 2,
          });
          pools.set(zone, pool);
        }
        const [rows] = await pool.query(sql, params);
        return rows as any[];
      },
      async stop() {
        for (const p of pools.values()) await p.end().catch(() => undefined);
        await stopAll();
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: any;
  text: string;
}

/** One HTTP call, body parsed as JSON when it is JSON. */
export async function http(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<Answer> {
  const res = await request(url, {
    method: (opts.method ?? (opts.body !== undefined ? 'POST' : 'GET')) as 'GET',
    headers: { ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers },
    body:
      opts.body === undefined
        ? undefined
        : typeof opts.body === 'string'
          ? opts.body
          : JSON.stringify(opts.body),
  });
  const text = await res.body.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, json, text };
}

/** The value of one Prometheus sample (0 when absent), e.g. metric(text, 'ez_soa_requests_total', {route: 'inbound'}). */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (ok) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

export const metricsOf = async (p: PartProcess): Promise<string> => (await http(`${p.url}/metrics`)).text;

/** Wait until every given part routes with at least `epoch` (GZS pushes take a few ms to arrive). */
export async function reachEpoch(parts: PartProcess[], epoch: number, timeoutMs = 5000): Promise<void> {
  const ok = await until(async () => {
    for (const p of parts) if ((await http(`${p.url}/healthz`)).json.epoch < epoch) return false;
    return true;
  }, timeoutMs);
  if (!ok) throw new Error(`parts did not reach epoch ${epoch} within ${timeoutMs} ms`);
}

/** Poll `check` until it returns true (or `timeoutMs` passes: false). */
export async function until(
  check: () => Promise<boolean>,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
