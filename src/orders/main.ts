#!/usr/bin/env node
/**
 * The sample order service of one eZone as a process (`node dist/src/orders/main.js --zone Z`, the
 * `orders` launcher kind), on the part runtime. Defaults from the topology: port `ports.orders`, the
 * eZone's MariaDB (`ports.mysql`, the app account) and Redis (`ports.redis`, with EZ_REDIS_PASSWORD
 * when set; `--redis off` runs without a cache). `--help` lists flags.
 */
import { Redis } from 'ioredis';
import { flag } from '../runtime/flags.js';
import { runPart } from '../runtime/part.js';
import { openRoutingSource, routingFlags } from '../sdk/index.js';
import { mysqlAccount } from '../shared/mysql-accounts.js';
import { redisPassword } from '../shared/secrets.js';
import { parseHostPort } from '../util/parse.js';
import { startOrderService } from './service.js';
import { OrderStore } from './store.js';

await runPart({
  part: 'orders',
  entry: 'src/orders/main.js',
  summary: 'the sample order service of one eZone: order lifecycle over HTTP, MariaDB store, cache-aside',
  flags: {
    ...routingFlags,
    zone: flag.zone('the eZone this service runs in', { required: true }),
    host: flag.string('address to listen on', { fallback: '127.0.0.1' }),
    port: flag.port("port to listen on; default: the eZone's ports.orders"),
    mysql: flag.hostPort("the eZone's MariaDB; default: its ports.mysql on 127.0.0.1"),
    redis: flag.string("the eZone's Redis HOST:PORT, or off; default: its ports.redis on 127.0.0.1"),
    'epoch-wait': flag.duration(
      'a caller decided at a newer epoch: wait this long for it before judging ownership',
      {
        min: 0,
        max: 60_000,
      },
    ),
  },
  logFields: (f) => ({ zone: f.zone }),
  async start({ flags, topology, log, registry }) {
    const zone = flags.zone;
    const ports = topology.deployment.zones[zone].ports;
    const mysqlAt = flags.mysql ?? { host: '127.0.0.1', port: ports.mysql };
    const redisAt =
      flags.redis === 'off' ? null : parseHostPort(flags.redis ?? `127.0.0.1:${ports.redis}`, '--redis');
    const cacheKey = topology.tables.find((t) => t.name === 'orders')?.cacheKey ?? 'order:{id}';
    const app = mysqlAccount('app');
    const source = await openRoutingSource({
      topology,
      gzs: flags.gzs,
      static: flags.static,
      cacheFile: flags['cache-file'],
      holder: { kind: 'orders', zone },
      registry,
      log,
    });
    const store = new OrderStore({
      ...mysqlAt,
      user: app.user,
      password: app.password,
      database: topology.database,
    });
    const redis = redisAt
      ? new Redis({
          ...redisAt,
          password: redisPassword(),
          // a cache outage must not stall requests: fail fast, read from MariaDB meanwhile
          maxRetriesPerRequest: 1,
          enableOfflineQueue: false,
          connectTimeout: 1000,
        })
      : null;
    redis?.on('error', (err) => log.debug({ err: err.message }, 'redis'));
    // a drill's clock nemesis only: this service's clock ahead (+) or behind (-) the host's
    const offsetText = process.env.EZ_CLOCK_OFFSET_MS ?? '0';
    const clockOffsetMs = Number(offsetText);
    if (!/^[-+]?\d{1,9}$/.test(offsetText.trim()) || Math.abs(clockOffsetMs) > 86_400_000)
      throw new Error(`EZ_CLOCK_OFFSET_MS: "${offsetText}" is not whole milliseconds within ±1 day`);
    if (clockOffsetMs !== 0)
      log.warn(
        { clockOffsetMs },
        'clock offset in force (EZ_CLOCK_OFFSET_MS): order ids carry a skewed time',
      );
    const service = await startOrderService({
      zone,
      source,
      store,
      redis,
      cacheKey,
      log,
      registry,
      host: flags.host,
      port: flags.port ?? ports.orders,
      epochWaitMs: flags['epoch-wait'],
      clockOffsetMs,
    });
    return {
      close: async () => {
        await service.close();
        await store.close();
        redis?.disconnect();
        await source.close();
      },
      ready: { url: service.url, epoch: source.epoch, mysql: mysqlAt, redis: redisAt, clockOffsetMs },
    };
  },
});
