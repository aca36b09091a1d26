#!/usr/bin/env node
/**
 * SOA Proxy process (one per eZone): `node dist/src/soa/main.js --topology FILE --zone ez-bj
 * [--port N] [--gzs URL]… [--service URL[,URL]] [--peer ZONE=URL]… [--lock-wait-ms 500]
 * [--access-log all|errors|off] [--static] [--cache-file F]`. Defaults from the topology: port
 * `ports.soa`, the local service at `ports.orders`, each peer eZone's SOA Proxy directly at its
 * `ports.soa` (`--peer ez-sh=http://127.0.0.1:<link listen port>` sends it through the link
 * `ez-bj->ez-sh:soa` instead). JSON logs on stdout, exit 0 on SIGTERM, 2 on bad flags.
 */
import { failAndExit, parsePartArgs, parseZoneMap, zoneArg } from '../router/args.js';
import { openRoutingSource } from '../router/source.js';
import { parseOrigin } from '../router/upstream.js';
import { createLogger } from '../util/log.js';
import { createRegistry, onShutdown } from '../util/ops.js';
import { peersFromTopology, startSoaProxy } from './index.js';

const USAGE =
  'main.js --topology FILE --zone ZONE [--port N] [--gzs URL]… [--service URL[,URL]] [--peer ZONE=URL]… [--static]';

async function main(): Promise<void> {
  const { common, values } = parsePartArgs(
    process.argv.slice(2),
    { zone: { type: 'string' }, service: { type: 'string' }, peer: { type: 'string', multiple: true } },
    USAGE,
  );
  const { topology } = common;
  const zone = zoneArg(values.zone, topology);
  const ports = topology.deployment.zones[zone].ports;
  const service = ((values.service as string | undefined) ?? `http://127.0.0.1:${ports.orders}`)
    .split(',')
    .filter(Boolean)
    .map((u) => parseOrigin(u, '--service'));
  const peers = { ...peersFromTopology(topology, zone) };
  for (const [peer, urls] of Object.entries(parseZoneMap('peer', values.peer as string[], topology))) {
    peers[peer] = urls[0];
  }
  const log = createLogger('soa', { zone });
  const registry = createRegistry('soa');
  const source = await openRoutingSource({ ...common, holder: { kind: 'soa', zone }, registry, log });
  const proxy = await startSoaProxy({
    zone,
    service,
    peers,
    source,
    host: common.host,
    port: common.port ?? ports.soa,
    lockWaitMs: common.lockWaitMs,
    accessLog: common.accessLog,
    pool: common.pool,
    log,
    registry,
  });
  onShutdown(log, async () => {
    await proxy.close();
    await source.close();
  });
  log.info({ url: proxy.url, epoch: source.epoch, service, peers }, 'ready');
}

main().catch((err) => failAndExit('soa', err));
