#!/usr/bin/env node
/**
 * The invalidator of one eZone as its own process (started by `ezctl up`, kind `invalidator`):
 *
 *   node dist/src/cache/main.js --topology FILE --zone Z [--mysql HOST:PORT] [--redis HOST:PORT] [--port N]
 *
 * Defaults from the topology: the eZone's MariaDB, Redis and `ports.invalidator` (for /healthz and
 * /metrics). Env: EZCTL_TOPOLOGY, EZ_INV_ZONE, EZ_INV_MYSQL, EZ_INV_REDIS, EZ_INV_PORT. JSON logs,
 * clean SIGTERM, exit 2 on bad flags.
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { loadTopology } from '../topology/index.js';
import { errorMessage } from '../util/errors.js';
import { createLogger } from '../util/log.js';
import { handleOps, onShutdown } from '../util/ops.js';
import { Invalidator } from './invalidator.js';

function fail(message: string, code: number): never {
  process.stderr.write(`invalidator: ${message}\n`);
  process.exit(code);
}

const env = {
  topology: 'EZCTL_TOPOLOGY',
  zone: 'EZ_INV_ZONE',
  mysql: 'EZ_INV_MYSQL',
  redis: 'EZ_INV_REDIS',
  port: 'EZ_INV_PORT',
} as const;
let flags: Partial<Record<keyof typeof env, string>>;
try {
  const { values } = parseArgs({
    options: Object.fromEntries(Object.keys(env).map((k) => [k, { type: 'string' }])) as Record<
      string,
      { type: 'string' }
    >,
    strict: true,
  });
  flags = Object.fromEntries(
    Object.entries(env).map(([k, e]) => [k, (values[k] as string | undefined) ?? process.env[e]]),
  );
} catch (err) {
  fail(`${errorMessage(err)} (usage: main.js --topology FILE --zone Z)`, 2);
}

const endpoint = (name: string, text: string | undefined, port: number) => {
  if (!text) return { host: '127.0.0.1', port };
  const m = /^(.+):(\d{1,5})$/.exec(text);
  if (!m || Number(m[2]) > 65535) fail(`--${name}: expected HOST:PORT, got "${text}"`, 2);
  return { host: m[1], port: Number(m[2]) };
};

let topology: ReturnType<typeof loadTopology>;
try {
  topology = loadTopology(flags.topology);
} catch (err) {
  fail(errorMessage(err), 2);
}
const zone = flags.zone;
if (!zone) fail('--zone is required (the eZone whose binlog and Redis this invalidator serves)', 2);
const dep = topology.deployment.zones[zone];
if (!dep) fail(`--zone ${zone}: unknown eZone (known: ${topology.zones.map((z) => z.id).join(', ')})`, 2);
let port = dep.ports.invalidator;
if (flags.port !== undefined) {
  if (!/^\d+$/.test(flags.port) || Number(flags.port) > 65535)
    fail(`--port: expected 0..65535, got "${flags.port}"`, 2);
  port = Number(flags.port);
}

const log = createLogger('invalidator', { zone });
const inv = new Invalidator({
  topology,
  zone,
  mysql: endpoint('mysql', flags.mysql, dep.ports.mysql),
  redis: endpoint('redis', flags.redis, dep.ports.redis),
  log,
});
const server = createServer((req, res) => {
  if (!handleOps(req, res, inv.registry, () => inv.health())) {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"not found: GET /healthz or /metrics"}');
  }
});
server.on('error', (err) => fail(`cannot listen on 127.0.0.1:${port}: ${errorMessage(err)}`, 1));
server.listen(port, '127.0.0.1', () => {
  log.info({ port }, `invalidator ${zone} started`);
  inv.start();
});
onShutdown(log, async () => {
  await inv.stop();
  await new Promise<void>((r) => server.close(() => r()));
});
