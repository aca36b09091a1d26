#!/usr/bin/env node
/**
 * APIRouter as a process (`node dist/src/router/main.js`, the `router` launcher kind), on the part
 * runtime. Upstreams default to every eZone's order service from the topology (`--upstream
 * ZONE=URL` overrides; `ezctl up` passes the links `edge-><eZone>:api`), the port to
 * `deployment.router.port`. Exit 0 on SIGTERM after in-flight requests finished. `--help` lists flags.
 */
import { flag } from '../runtime/flags.js';
import { runPart } from '../runtime/part.js';
import { openRoutingSource, routingFlags } from '../sdk/index.js';
import { checkZone } from '../topology/index.js';
import { parseBaseUrl } from '../util/parse.js';
import { gatewayFlags, gatewayOptionsFrom } from './flags.js';
import { startApiRouter, upstreamsFromTopology } from './index.js';

await runPart({
  part: 'router',
  entry: 'src/router/main.js',
  summary: 'APIRouter: routing tag -> shard -> eZone reverse proxy (DESIGN §3)',
  flags: {
    ...routingFlags,
    ...gatewayFlags,
    port: flag.port("port to listen on; default: the topology's deployment.router.port"),
    upstream: flag.pairs(
      "an eZone's service instances, ZONE=URL[,URL] (repeatable); default: each eZone's ports.orders",
    ),
  },
  async start({ flags, topology, log, registry }) {
    const upstreams = upstreamsFromTopology(topology);
    for (const [zone, urls] of flags.upstream ?? []) {
      checkZone(topology, '--upstream', zone);
      upstreams[zone] = urls.split(',').map((u) => parseBaseUrl(u.trim(), `--upstream ${zone}`));
    }
    const source = await openRoutingSource({
      topology,
      gzs: flags.gzs,
      static: flags.static,
      cacheFile: flags['cache-file'],
      holder: { kind: 'router', zone: null },
      registry,
      log,
    });
    const router = await startApiRouter({
      source,
      upstreams,
      host: flags.host,
      port: flags.port ?? topology.deployment.router.port,
      lockWaitMs: flags['lock-wait'],
      ...gatewayOptionsFrom(flags),
      log,
      registry,
    });
    return {
      close: async () => {
        await router.close();
        await source.close();
      },
      ready: { url: router.url, epoch: source.epoch, upstreams },
    };
  },
});
