#!/usr/bin/env node
/**
 * The DAL of one eZone as a process (`node dist/src/dal/main.js --zone Z`, the `dal` launcher
 * kind), on the part runtime: MySQL protocol on `ports.dal`, /healthz and /metrics on
 * `ports.dalHttp`, in front of the eZone's MariaDB (`ports.mysql`), Global-Zone writes to the
 * master's MariaDB (`--master`: `ezctl up` passes the link). It listens at once; writes wait for
 * GZS's table (EZ_NOT_READY), reads do not. `--help` lists flags.
 */
import { flag } from '../runtime/flags.js';
import { runPart } from '../runtime/part.js';
import { openRoutingSource, RoutingClient, type RoutingSource, routingFlags } from '../sdk/index.js';
import { mysqlAccount } from '../shared/mysql-accounts.js';
import { errorMessage } from '../util/errors.js';
import { parseHostPort } from '../util/parse.js';
import type { MariaDbAddress } from './backend.js';
import { checkDalSecrets, Dal } from './server.js';

await runPart({
  part: 'dal',
  entry: 'src/dal/main.js',
  summary:
    'the DAL of one eZone: a MySQL-protocol proxy that refuses wrong-zone and locked writes and serves the Global Zone',
  flags: {
    ...routingFlags,
    zone: flag.zone('the eZone this DAL serves', { required: true }),
    host: flag.string('address to listen on (MySQL protocol and ops)', { fallback: '127.0.0.1' }),
    port: flag.port("MySQL-protocol port; default: the eZone's ports.dal"),
    'ops-port': flag.port("port of /healthz and /metrics; default: the eZone's ports.dalHttp"),
    backend: flag.string(
      "this eZone's MariaDB: its unix socket (a path; `ezctl up` passes it) or HOST:PORT; default: its ports.mysql on 127.0.0.1",
    ),
    master: flag.hostPort(
      "the Global-Zone master's MariaDB as this eZone reaches it; default: the master's ports.mysql on 127.0.0.1",
    ),
    'ryw-timeout': flag.duration(
      'read-your-writes: how long a read waits for a Global-Zone write to arrive',
      { min: 1, max: 60_000 },
      { fallback: 2000 },
    ),
    'max-packet': flag.int(
      'largest client packet accepted, in bytes (bigger: an error, the connection closes)',
      1024,
      1 << 30,
      {
        fallback: 64 << 20,
      },
    ),
    'pool-size': flag.int('idle backend connections kept per (capabilities, charset)', 0, 10_000, {
      fallback: 64,
    }),
  },
  logFields: (f) => ({ zone: f.zone }),
  shutdownTimeoutMs: 12_000,
  async start({ flags, topology, log, registry }) {
    const zone = flags.zone;
    const ports = topology.deployment.zones[zone].ports;
    const masterPorts = topology.deployment.zones[topology.globalMaster].ports;
    // clients log in with the app account: its development password stays on loopback
    checkDalSecrets({ host: flags.host });
    const app = mysqlAccount('app');
    const local: MariaDbAddress = flags.backend
      ? flags.backend.startsWith('/')
        ? { socket: flags.backend }
        : parseHostPort(flags.backend, '--backend')
      : { host: '127.0.0.1', port: ports.mysql };
    const dal = await Dal.start({
      topology,
      zone,
      listen: { host: flags.host, port: flags.port ?? ports.dal },
      backend: local,
      master:
        flags.master ??
        (zone === topology.globalMaster ? local : { host: '127.0.0.1', port: masterPorts.mysql }),
      account: { user: app.user, password: app.password },
      log,
      registry,
      maxPacketBytes: flags['max-packet'],
      rywTimeoutMs: flags['ryw-timeout'],
      poolSize: flags['pool-size'],
    });

    // the routing source, in the background: until it is here, writes are EZ_NOT_READY
    let source: RoutingSource | null = null;
    let closed = false;
    let upgrade: NodeJS.Timeout | undefined;
    const opened = (async () => {
      for (let attempt = 1; !closed; attempt++) {
        try {
          const s = await openRoutingSource({
            topology,
            gzs: flags.gzs,
            static: flags.static,
            cacheFile: flags['cache-file'],
            holder: { kind: 'dal', zone },
            ackableEpoch: dal.ackableEpoch,
            registry,
            log,
          });
          if (closed) {
            await s.close();
            return;
          }
          source = s;
          if (s instanceof RoutingClient) {
            const heardGzs = () => s.state === 'connected' || s.source === 'gzs';
            dal.attach(s, {
              from: heardGzs() ? 'gzs' : 'cache',
              acknowledge: () => s.acknowledge(),
              acknowledged: () => s.acknowledgedEpoch,
            });
            // serving from the cache file: say so until GZS is heard, then serve from GZS
            if (!heardGzs())
              upgrade = setInterval(() => {
                if (!heardGzs()) return;
                dal.heard('gzs');
                clearInterval(upgrade);
              }, 200);
          } else dal.attach(s, { from: 'static' });
          return;
        } catch (err) {
          if (attempt === 1 || attempt % 30 === 0)
            log.warn(
              { err: errorMessage(err), attempt },
              'no routing table yet (writes refused with EZ_NOT_READY); retrying',
            );
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    })();

    return {
      ops: {
        host: flags.host,
        port: flags['ops-port'] ?? ports.dalHttp,
        health: () => ({ ...dal.health() }),
      },
      close: async () => {
        closed = true;
        clearInterval(upgrade);
        await dal.close();
        await opened.catch(() => undefined);
        await (source as RoutingSource | null)?.close();
      },
      ready: { listen: dal.address, backend: dal.health().backend, master: dal.health().master },
    };
  },
});
