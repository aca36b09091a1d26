#!/usr/bin/env node
/**
 * APIRouter process: `node dist/src/router/main.js --topology FILE [--port N] [--gzs URL]…
 * [--upstream ZONE=URL[,URL]]… [--lock-wait-ms 500] [--access-log all|errors|off]
 * [--access-log-sample 0..1] [--static] [--cache-file F]`. Upstreams default to every eZone's
 * order service from the topology; the port to `deployment.router.port`. JSON logs on stdout
 * (a `ready` line with the URL), exit 0 on SIGTERM after in-flight requests finished, 2 on bad flags.
 */
import { createLogger } from '../util/log.js';
import { createRegistry, onShutdown } from '../util/ops.js';
import { failAndExit, parsePartArgs, parseZoneMap } from './args.js';
import { startApiRouter, upstreamsFromTopology } from './index.js';
import { openRoutingSource } from './source.js';

const USAGE =
  'main.js --topology FILE [--port N] [--gzs URL]… [--upstream ZONE=URL[,URL]]… [--lock-wait-ms N] [--access-log all|errors|off] [--static]';

async function main(): Promise<void> {
  const { common, values } = parsePartArgs(
    process.argv.slice(2),
    { upstream: { type: 'string', multiple: true } },
    USAGE,
  );
  const { topology } = common;
  const log = createLogger('router');
  const upstreams = {
    ...upstreamsFromTopology(topology),
    ...parseZoneMap('upstream', values.upstream as string[], topology),
  };
  const registry = createRegistry('router');
  const source = await openRoutingSource({
    ...common,
    holder: { kind: 'router', zone: null },
    registry,
    log,
  });
  const router = await startApiRouter({
    source,
    upstreams,
    host: common.host,
    port: common.port ?? topology.deployment.router.port,
    lockWaitMs: common.lockWaitMs,
    accessLog: common.accessLog,
    pool: common.pool,
    log,
    registry,
  });
  onShutdown(log, async () => {
    await router.close();
    await source.close();
  });
  log.info({ url: router.url, epoch: source.epoch, upstreams, pid: process.pid }, 'ready');
}

main().catch((err) => failAndExit('router', err));
