#!/usr/bin/env node
/**
 * SOA Proxy as a process (one per eZone: `node dist/src/soa/main.js --zone Z`, the `soa` launcher
 * kind), on the part runtime. Defaults from the topology: port `ports.soa`, the local service at
 * `ports.orders`, each peer eZone's SOA Proxy at its `ports.soa` (`ezctl up` passes `--peer
 * ZONE=URL` = the link `<zone>-><peer>:soa`). `--help` lists flags.
 */
import { gatewayFlags, gatewayOptionsFrom } from '../router/index.js';
import { flag } from '../runtime/flags.js';
import { runPart } from '../runtime/part.js';
import { openRoutingSource, routingFlags } from '../sdk/index.js';
import { checkZone } from '../topology/index.js';
import { parseBaseUrl } from '../util/parse.js';
import { peersFromTopology, startSoaProxy } from './index.js';

await runPart({
  part: 'soa',
  entry: 'src/soa/main.js',
  summary: 'SOA Proxy of one eZone: service calls, across eZones only through it',
  flags: {
    ...routingFlags,
    ...gatewayFlags,
    zone: flag.zone('the eZone this proxy serves', { required: true }),
    port: flag.port("port to listen on; default: the eZone's ports.soa"),
    service: flag.urls("this eZone's service instances; default: its ports.orders"),
    peer: flag.pairs(
      "where a peer eZone's SOA Proxy is reached, ZONE=URL (repeatable); default: its ports.soa",
    ),
  },
  logFields: (f) => ({ zone: f.zone }),
  async start({ flags, topology, log, registry }) {
    const zone = flags.zone;
    const ports = topology.deployment.zones[zone].ports;
    const service = flags.service?.length ? flags.service : [`http://127.0.0.1:${ports.orders}`];
    const peers = peersFromTopology(topology, zone);
    for (const [peer, url] of flags.peer ?? []) {
      checkZone(topology, '--peer', peer);
      peers[peer] = parseBaseUrl(url, `--peer ${peer}`);
    }
    const source = await openRoutingSource({
      topology,
      gzs: flags.gzs,
      static: flags.static,
      cacheFile: flags['cache-file'],
      holder: { kind: 'soa', zone },
      registry,
      log,
    });
    const proxy = await startSoaProxy({
      zone,
      service,
      peers,
      source,
      host: flags.host,
      port: flags.port ?? ports.soa,
      lockWaitMs: flags['lock-wait'],
      ...gatewayOptionsFrom(flags),
      log,
      registry,
    });
    return {
      close: async () => {
        await proxy.close();
        await source.close();
      },
      ready: { url: proxy.url, epoch: source.epoch, service, peers },
    };
  },
});
