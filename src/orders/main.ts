#!/usr/bin/env node
/**
 * The sample order service of one eZone: `node dist/src/orders/main.js --topology FILE --zone ez-bj
 * [--port N] [--gzs URL]… [--mysql HOST:PORT] [--redis HOST:PORT|off] [--static] [--cache-file F]`.
 * Defaults from the topology: port `ports.orders`, the eZone's MariaDB (`ports.mysql`, app account from
 * src/launch/credentials.ts) and Redis (`ports.redis`). JSON logs, exit 0 on SIGTERM, 2 on bad flags.
 */
import { Redis } from 'ioredis';
import { failAndExit, int, parsePartArgs, zoneArg } from '../router/args.js';
import { openRoutingSource } from '../router/source.js';
import { APP_PASSWORD, APP_USER } from '../shared/mysql-accounts.js';
import { UsageError } from '../util/errors.js';
import { createLogger } from '../util/log.js';
import { createRegistry, onShutdown } from '../util/ops.js';
import { startOrderService } from './service.js';
import { OrderStore } from './store.js';

const USAGE =
  'main.js --topology FILE --zone ZONE [--port N] [--gzs URL]… [--mysql HOST:PORT] [--redis HOST:PORT|off] [--static]';

function hostPort(flag: string, text: string): { host: string; port: number } {
  const m = /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
  if (!m) throw new UsageError(`--${flag}: "${text}" is not HOST:PORT (e.g. 127.0.0.1:27200)`);
  return { host: m[1], port: int(flag, m[2], 1, 65535)! };
}

async function main(): Promise<void> {
  const { common, values } = parsePartArgs(
    process.argv.slice(2),
    { zone: { type: 'string' }, mysql: { type: 'string' }, redis: { type: 'string' } },
    USAGE,
  );
  const { topology } = common;
  const zone = zoneArg(values.zone, topology);
  const ports = topology.deployment.zones[zone].ports;
  const mysqlAt = hostPort('mysql', (values.mysql as string | undefined) ?? `127.0.0.1:${ports.mysql}`);
  const redisArg = (values.redis as string | undefined) ?? `127.0.0.1:${ports.redis}`;
  const redisAt = redisArg === 'off' ? null : hostPort('redis', redisArg);
  const cacheKey = topology.tables.find((t) => t.name === 'orders')?.cacheKey ?? 'order:{id}';

  const log = createLogger('orders', { zone });
  const registry = createRegistry('orders');
  const source = await openRoutingSource({ ...common, holder: { kind: 'orders', zone }, registry, log });
  const store = new OrderStore({
    ...mysqlAt,
    user: APP_USER,
    password: APP_PASSWORD,
    database: topology.database,
  });
  const redis = redisAt
    ? new Redis({
        ...redisAt,
        // a cache outage must not stall requests: fail fast, read from MariaDB meanwhile
        maxRetriesPerRequest: 1,
        enableOfflineQueue: false,
        connectTimeout: 1000,
      })
    : null;
  redis?.on('error', (err) => log.debug({ err: err.message }, 'redis'));
  const service = await startOrderService({
    zone,
    source,
    store,
    redis,
    cacheKey,
    log,
    registry,
    host: common.host,
    port: common.port ?? ports.orders,
    epochWaitMs: common.lockWaitMs,
  });
  onShutdown(log, async () => {
    await service.close();
    await store.close();
    redis?.disconnect();
    await source.close();
  });
  log.info({ url: service.url, epoch: source.epoch, mysql: mysqlAt, redis: redisAt }, 'ready');
}

main().catch((err) => failAndExit('orders', err));
