#!/usr/bin/env node
/**
 * One replicator A → B as its own process (started by `ezctl up`, kind `drc`):
 *
 *   node dist/src/drc/main.js --topology FILE --from A --to B
 *     [--source HOST:PORT | --via-links URL] [--target HOST:PORT] [--port N]
 *     [--heartbeat-ms 100] [--max-group-rows 2000] [--start-at beginning|end] [--lag-log FILE]
 *
 * Every flag also reads an environment variable (EZ_DRC_FROM, EZ_DRC_TO, EZ_DRC_SOURCE,
 * EZ_DRC_VIA_LINKS, EZ_DRC_TARGET, EZ_DRC_PORT, ...; the topology from EZCTL_TOPOLOGY).
 * Serves GET /healthz and /metrics on --port (default: B's ports.drc + index of A), logs JSON
 * lines, stops cleanly on SIGTERM. Exit 2 on bad flags.
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { loadTopology } from '../topology/index.js';
import { errorMessage } from '../util/errors.js';
import { createLogger } from '../util/log.js';
import { handleOps, onShutdown } from '../util/ops.js';
import { checkDirection, drcPort } from './names.js';
import { TopologyOwnership } from './ownership.js';
import { type Endpoint, Replicator } from './replicator.js';

function fail(message: string, code: number): never {
  process.stderr.write(`drc: ${message}\n`);
  process.exit(code);
}

const options = {
  topology: { type: 'string', env: 'EZCTL_TOPOLOGY' },
  from: { type: 'string', env: 'EZ_DRC_FROM' },
  to: { type: 'string', env: 'EZ_DRC_TO' },
  source: { type: 'string', env: 'EZ_DRC_SOURCE' },
  'via-links': { type: 'string', env: 'EZ_DRC_VIA_LINKS' },
  target: { type: 'string', env: 'EZ_DRC_TARGET' },
  port: { type: 'string', env: 'EZ_DRC_PORT' },
  'heartbeat-ms': { type: 'string', env: 'EZ_DRC_HEARTBEAT_MS' },
  'max-group-rows': { type: 'string', env: 'EZ_DRC_MAX_GROUP_ROWS' },
  'start-at': { type: 'string', env: 'EZ_DRC_START_AT' },
  'lag-log': { type: 'string', env: 'EZ_DRC_LAG_LOG' },
} as const;

let flags: Record<string, string | undefined>;
try {
  const { values } = parseArgs({
    options: Object.fromEntries(Object.entries(options).map(([k, v]) => [k, { type: v.type }])) as Record<
      string,
      { type: 'string' }
    >,
    strict: true,
  });
  flags = Object.fromEntries(
    Object.entries(options).map(([k, v]) => [k, (values[k] as string | undefined) ?? process.env[v.env]]),
  );
} catch (err) {
  fail(`${errorMessage(err)} (usage: main.js --topology FILE --from A --to B [--source HOST:PORT])`, 2);
}

const int = (name: string, text: string | undefined, min: number, max: number): number | undefined => {
  if (text === undefined || text === '') return undefined;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max)
    fail(`--${name}: expected an integer ${min}..${max}, got "${text}"`, 2);
  return Number(text);
};
const endpoint = (name: string, text: string | undefined): Endpoint | undefined => {
  if (!text) return undefined;
  const m = /^(.+):(\d{1,5})$/.exec(text);
  if (!m || Number(m[2]) > 65535) fail(`--${name}: expected HOST:PORT, got "${text}"`, 2);
  return { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
};

let topology: ReturnType<typeof loadTopology>;
try {
  topology = loadTopology(flags.topology);
  if (!flags.from || !flags.to) fail('--from and --to are required (the source and target eZones)', 2);
  checkDirection(topology, flags.from, flags.to);
} catch (err) {
  fail(errorMessage(err), 2);
}
const from = flags.from!;
const to = flags.to!;
const startAt = flags['start-at'];
if (startAt !== undefined && startAt !== 'beginning' && startAt !== 'end')
  fail(`--start-at: expected "beginning" or "end", got "${startAt}"`, 2);
if (flags.source && flags['via-links']) fail('--source and --via-links exclude each other', 2);

const port = int('port', flags.port, 0, 65535) ?? drcPort(topology, from, to);
const target = endpoint('target', flags.target) ?? {
  host: '127.0.0.1',
  port: topology.deployment.zones[to].ports.mysql,
};
const log = createLogger('drc', { source: from, target: to });

let source: Endpoint | (() => Promise<Endpoint>);
const viaLinks = flags['via-links'];
if (viaLinks) {
  // the link `B->A:mysql`: clients in B reach A's MariaDB through it (harness/links naming)
  const url = /^https?:\/\//.test(viaLinks) ? viaLinks : `http://${viaLinks}`;
  source = async () => {
    const { LinkSet } = await import('../links/link-set.js');
    const set = await LinkSet.attach({ toxiproxy: url, topology });
    const address = set.address(to, from, 'mysql');
    const i = address.lastIndexOf(':');
    return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
  };
} else {
  source = endpoint('source', flags.source) ?? {
    host: '127.0.0.1',
    port: topology.deployment.zones[from].ports.mysql,
  };
}

const replicator = new Replicator({
  topology,
  from,
  to,
  source,
  target,
  log,
  ownership: new TopologyOwnership(topology),
  heartbeatMs: int('heartbeat-ms', flags['heartbeat-ms'], 10, 60_000),
  maxGroupRows: int('max-group-rows', flags['max-group-rows'], 1, 100_000),
  startAt: startAt as 'beginning' | 'end' | undefined,
  lagLog: flags['lag-log'] || undefined,
});

const server = createServer((req, res) => {
  if (!handleOps(req, res, replicator.metrics.registry, () => replicator.health())) {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"not found: GET /healthz or /metrics"}');
  }
});
server.on('error', (err) => fail(`cannot listen on 127.0.0.1:${port}: ${errorMessage(err)}`, 1));
server.listen(port, '127.0.0.1', () => {
  log.info(
    {
      port,
      target: `${target.host}:${target.port}`,
      source: typeof source === 'function' ? `links ${viaLinks}` : `${source.host}:${source.port}`,
    },
    `drc ${from} -> ${to} started`,
  );
  replicator.start();
});

onShutdown(log, async () => {
  await replicator.stop();
  await new Promise<void>((r) => server.close(() => r()));
});
