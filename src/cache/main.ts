#!/usr/bin/env node
/**
 * The cache invalidator of one eZone as a process (`node dist/src/cache/main.js --zone Z`, the
 * `invalidator` launcher kind), on the part runtime: /healthz and /metrics on --port (default
 * the eZone's ports.invalidator), JSON logs, clean SIGTERM. `--help` lists every flag.
 */
import { flag } from '../runtime/flags.js';
import { runPart } from '../runtime/part.js';
import { Invalidator } from './invalidator.js';

await runPart({
  part: 'invalidator',
  entry: 'src/cache/main.js',
  summary: 'the cache invalidator of one eZone: local binlog -> Redis markers + the ez:changes stream',
  flags: {
    zone: flag.zone('the eZone whose binlog and Redis this invalidator serves', {
      required: true,
      env: 'EZ_INV_ZONE',
    }),
    mysql: flag.hostPort("the eZone's MariaDB; default: its ports.mysql on 127.0.0.1", {
      env: 'EZ_INV_MYSQL',
    }),
    redis: flag.hostPort("the eZone's Redis; default: its ports.redis on 127.0.0.1", { env: 'EZ_INV_REDIS' }),
    host: flag.string('address of /healthz and /metrics', { fallback: '127.0.0.1' }),
    port: flag.port("port of /healthz and /metrics; default: the eZone's ports.invalidator", {
      env: 'EZ_INV_PORT',
    }),
  },
  logFields: (f) => ({ zone: f.zone }),
  async start({ flags, topology, log }) {
    const ports = topology.deployment.zones[flags.zone].ports;
    const inv = new Invalidator({
      topology,
      zone: flags.zone,
      mysql: flags.mysql ?? { host: '127.0.0.1', port: ports.mysql },
      redis: flags.redis ?? { host: '127.0.0.1', port: ports.redis },
      log,
    });
    inv.start();
    return {
      close: () => inv.stop(),
      ops: {
        host: flags.host ?? '127.0.0.1',
        port: flags.port ?? ports.invalidator,
        health: () => inv.health(),
      },
      registry: inv.registry,
    };
  },
});
