/**
 * Real MariaDB / Redis / ZooKeeper for integration tests, started through the same process kinds
 * as `ezctl up` (src/launch/kinds), each on a free port in a private directory. Every pid lands in
 * EZ_TEST_PID_DIR, so test/global-setup.ts reaps whatever a failed test left running; still, stop
 * what you start in afterAll.
 */
import type { ConnectionOptions } from 'mysql2/promise';
import { hostFor, type Spawned, waitGone } from '../../src/launch/host.js';
import { LaunchError, startInstance } from '../../src/launch/instance.js';
import { type MariaDBParams, mariadb, mariadbSpec } from '../../src/launch/kinds/mariadb.js';
import { redis, redisSpec } from '../../src/launch/kinds/redis.js';
import type { InstanceSpec, ProcessKind } from '../../src/launch/kinds/types.js';
import { zookeeper, zookeeperSpec } from '../../src/launch/kinds/zookeeper.js';
import { type MysqlRole, mysqlAccount } from '../../src/shared/mysql-accounts.js';
import { freePort } from '../../src/util/net.js';
import { tempDir } from './run-dir.js';

export { freePort, freePortRun, freePorts } from '../../src/util/net.js';

export interface Service {
  name: string;
  host: '127.0.0.1';
  port: number;
  /** pid of the current process (changes on restart) */
  pid: number;
  dataDir: string;
  logFile: string;
  /** graceful stop (the kind's own: mariadb-admin shutdown / SIGTERM), data kept */
  stop(): Promise<void>;
  /** SIGKILL, for crash tests; resolves once the pid is gone */
  kill(): Promise<void>;
  /** start again on the same port and data (stops first if still running) */
  restart(): Promise<void>;
  /** the process runs (same pid, not a zombie) */
  alive(): Promise<boolean>;
}

const host = hostFor('local');

/** Start `kind` on a free port; a lost race for the port is retried with another one. */
async function startService<P>(
  kind: ProcessKind<P>,
  makeSpec: (port: number) => InstanceSpec<P>,
): Promise<Service> {
  let spec!: InstanceSpec<P>;
  let proc!: Spawned;
  for (let attempt = 1; ; attempt++) {
    spec = makeSpec(await freePort());
    try {
      proc = await startInstance(kind, spec, host);
      break;
    } catch (err) {
      const portLost =
        err instanceof LaunchError &&
        (err.code === 'EZ_PORT_IN_USE' ||
          /Address already in use|EADDRINUSE|Can't start server/i.test(err.logTail));
      if (!portLost || attempt >= 3) throw err;
    }
  }
  const svc: Service = {
    name: spec.name,
    host: '127.0.0.1',
    port: spec.port,
    pid: proc.pid,
    dataDir: spec.dataDir,
    logFile: spec.logFile,
    async stop() {
      await kind.stop(spec, host, proc.pid, proc.startToken);
    },
    async kill() {
      await host.signal(proc.pid, 'SIGKILL');
      await waitGone(host, proc.pid, 5000, proc.startToken);
    },
    async restart() {
      await kind.stop(spec, host, proc.pid, proc.startToken);
      proc = await startInstance(kind, spec, host);
      svc.pid = proc.pid;
    },
    alive: () => host.isAlive(proc.pid, proc.startToken),
  };
  return svc;
}

export interface MariaDBService extends Service {
  serverId: number;
  database: string;
  socket: string;
  /** mysql2 options for a role: root (over the socket), app, reader, applier (over TCP) */
  connection(role: MysqlRole, extra?: ConnectionOptions): ConnectionOptions;
  root: ConnectionOptions;
  app: ConnectionOptions;
  reader: ConnectionOptions;
  applier: ConnectionOptions;
}

/**
 * A MariaDB configured exactly like an eZone's (binlog ROW/FULL, server id = gtid domain id =
 * `serverId`), bootstrapped with the database, the schema (default fixtures/sql/schema.sql; a path
 * to another file, or false for none) and the root/app/reader/applier accounts.
 */
export async function startMariaDB(
  opts: { serverId?: number; database?: string; schema?: string | false } = {},
): Promise<MariaDBService> {
  const serverId = opts.serverId ?? 1;
  const database = opts.database ?? 'ezshop';
  const dataDir = tempDir(`mariadb-${serverId}`);
  const svc = await startService(mariadb, (port) =>
    mariadbSpec({
      name: `mariadb#${serverId}`,
      port,
      dataDir,
      serverId,
      database,
      schemaFile: opts.schema === false ? null : opts.schema,
    }),
  );
  const socket = (mariadbSpec({ port: 0, dataDir, serverId, database }).params as MariaDBParams).socket;
  const connection = (role: MysqlRole, extra: ConnectionOptions = {}): ConnectionOptions => {
    const a = mysqlAccount(role);
    const where = role === 'root' ? { socketPath: socket } : { host: '127.0.0.1', port: svc.port };
    return { ...where, user: a.user, password: a.password, database, ...extra };
  };
  return Object.assign(svc, {
    serverId,
    database,
    socket,
    connection,
    root: connection('root'),
    app: connection('app'),
    reader: connection('reader'),
    applier: connection('applier'),
  });
}

export async function startRedis(): Promise<Service> {
  const dataDir = tempDir('redis');
  return startService(redis, (port) => redisSpec({ name: 'redis', port, dataDir }));
}

/** Standalone ZooKeeper 3.8 (connect string `127.0.0.1:<port>`). */
export async function startZooKeeper(): Promise<Service & { connectString: string }> {
  const dataDir = tempDir('zookeeper');
  const svc = await startService(zookeeper, (port) => zookeeperSpec({ port, dataDir }));
  return Object.assign(svc, {
    get connectString() {
      return `127.0.0.1:${svc.port}`;
    },
  });
}

export { startZoneCluster, writeFreePortTopology, type ZoneCluster } from './zone-cluster.js';
