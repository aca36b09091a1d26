// Launcher kind `mariadb`: one private MariaDB per eZone (binlog ROW/FULL), bootstrapped out of the binlog.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2';
import { type MysqlAccount, mysqlAccount } from '../../shared/mysql-accounts.js';
import { isLoopback } from '../../shared/secrets.js';
import { EzError } from '../../util/errors.js';
import { fixturesDir } from '../../util/paths.js';
import { shq } from '../../util/shell.js';
import { type Host, terminate } from '../host.js';
import { type InstanceSpec, instanceName, type LaunchCommand, type ProcessKind } from './types.js';

export interface MariaDBParams {
  /** `--server-id` and `--gtid-domain-id`: the eZone's serverId (DRC's origin id) */
  serverId: number;
  /** database created by bootstrap (topology.database); the app/DRC grants are on it */
  database: string;
  /** schema applied by bootstrap (a file on the launcher's machine); null: none */
  schemaFile: string | null;
  /** private unix socket (root logs in here) */
  socket: string;
}

/** Unix socket paths are limited to 107 bytes: fall back to a short path derived from the dataDir. */
export function socketPathFor(dataDir: string): string {
  const inDir = join(dataDir, 'mysqld.sock');
  if (Buffer.byteLength(inDir) <= 100) return inDir;
  return `/tmp/ezctl-${createHash('sha1').update(dataDir).digest('hex').slice(0, 16)}.sock`;
}

export function mariadbSpec(o: {
  zone?: string;
  name?: string;
  host?: string;
  /** the address it binds to (its host's; default 127.0.0.1) */
  address?: string;
  port: number;
  dataDir: string;
  serverId: number;
  database: string;
  schemaFile?: string | null;
}): InstanceSpec<MariaDBParams> {
  return {
    name: o.name ?? instanceName('mariadb', o.zone),
    kind: 'mariadb',
    zone: o.zone,
    host: o.host ?? 'local',
    address: o.address ?? '127.0.0.1',
    port: o.port,
    dataDir: o.dataDir,
    logFile: join(o.dataDir, 'mariadbd.log'),
    params: {
      serverId: o.serverId,
      database: o.database,
      schemaFile: o.schemaFile === undefined ? join(fixturesDir(), 'sql', 'schema.sql') : o.schemaFile,
      socket: socketPathFor(o.dataDir),
    },
  };
}

const dataPath = (spec: InstanceSpec<MariaDBParams>): string => join(spec.dataDir, 'data');
/** a private tmpdir: concurrent instances sharing /tmp were seen to fail mariadb-install-db */
const tmpPath = (spec: InstanceSpec<MariaDBParams>): string => join(spec.dataDir, 'tmp');

/** Client tools on the private socket as root (MYSQL_PWD only when a root password is configured). */
function rootClient(spec: InstanceSpec<MariaDBParams>, password = mysqlAccount('root').password) {
  return {
    args: ['--no-defaults', `--socket=${spec.params.socket}`, '--user=root'],
    env: password ? { MYSQL_PWD: password } : undefined,
  };
}

const q = (s: string): string => mysql.escape(s);

/** Datadirs (`host\npath`) this process just initialized: their root password is still empty. */
const initialized = new Set<string>();

/** The bootstrap script: database, schema, the three accounts and their grants, out of the binlog. */
export function bootstrapSql(
  database: string,
  schemaSql: string,
  accounts: Record<'root' | 'app' | 'reader' | 'applier', MysqlAccount>,
  /** where the accounts may log in from: loopback, plus any address ('%') when MariaDB listens off loopback */
  clientHosts: readonly string[] = ['127.0.0.1', 'localhost'],
): string {
  const db = mysql.escapeId(database);
  const lines = [
    // bootstrap is local to each eZone: keep it out of the binlog so DRC never replicates it
    'SET SESSION sql_log_bin=0;',
    // root only on the socket: drop the root@host accounts mariadb-install-db makes (found here
    // rather than by a query of its own, which would be one more ssh round trip on a remote host)
    "SET @ez_roots = (SELECT GROUP_CONCAT(CONCAT(QUOTE(User),'@',QUOTE(Host))) FROM mysql.user WHERE User='root' AND Host<>'localhost');",
    "EXECUTE IMMEDIATE IF(@ez_roots IS NULL, 'DO 0', CONCAT('DROP USER ', @ez_roots));",
    `CREATE DATABASE IF NOT EXISTS ${db} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;`,
    `USE ${db};`,
    schemaSql.trim(),
  ];
  const user = (a: MysqlAccount): string[] =>
    clientHosts.flatMap((h) => {
      const id = `${q(a.user)}@${q(h)}`;
      return [
        `CREATE USER IF NOT EXISTS ${id} IDENTIFIED VIA mysql_native_password USING PASSWORD(${q(a.password)});`,
        // ALTER as well: a password changed through EZ_MYSQL_<USER>_PASSWORD applies on the next up
        `ALTER USER ${id} IDENTIFIED VIA mysql_native_password USING PASSWORD(${q(a.password)});`,
      ];
    });
  const grant = (privs: string, on: string, a: MysqlAccount): string =>
    `GRANT ${privs} ON ${on} TO ${clientHosts.map((h) => `${q(a.user)}@${q(h)}`).join(', ')};`;
  const { app, reader, applier, root } = accounts;
  lines.push(
    ...user(app),
    grant('SELECT, INSERT, UPDATE, DELETE', `${db}.*`, app),
    ...user(reader),
    grant('REPLICATION SLAVE, BINLOG MONITOR', '*.*', reader),
    grant('SELECT', `${db}.*`, reader),
    ...user(applier),
    grant('SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP', `${db}.*`, applier),
    // BINLOG REPLAY: session server_id/gtid_domain_id/gtid_seq_no (loop prevention);
    // BINLOG ADMIN: SET sql_log_bin
    grant('BINLOG REPLAY, BINLOG ADMIN', '*.*', applier),
  );
  if (root.password)
    lines.push(
      `ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(${q(root.password)});`,
    );
  lines.push('FLUSH PRIVILEGES;');
  return `${lines.join('\n')}\n`;
}

async function runSql(
  spec: InstanceSpec<MariaDBParams>,
  host: Host,
  sql: string,
  password?: string,
): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  const c = rootClient(spec, password);
  const r = await host.run('mariadb', [...c.args, '--batch', '--skip-column-names'], {
    env: c.env,
    input: sql,
    timeoutMs: 60_000,
  });
  return { ok: r.exitCode === 0, stdout: r.stdout, stderr: r.stderr };
}

export const mariadb: ProcessKind<MariaDBParams> = {
  kind: 'mariadb',
  after: [],
  readyTimeoutMs: 60_000,
  description: "MariaDB per eZone: binlog ROW/FULL, server id = the eZone's serverId",

  instances({ topology, dataDir, hostOf }) {
    return topology.zones.map((z) => {
      const d = topology.deployment.zones[z.id];
      return mariadbSpec({
        zone: z.id,
        ...hostOf(z.id, 'mariadb'),
        port: d.ports.mysql,
        dataDir: dataDir(z.id, 'mariadb'),
        serverId: z.serverId,
        database: topology.database,
        schemaFile: topology.schemaFile,
      });
    });
  },

  async prepare(spec, host) {
    const data = dataPath(spec);
    const installArgs = [
      '--no-defaults',
      ...(host.user === 'root' ? ['--user=root'] : []),
      `--datadir=${data}`,
      `--tmpdir=${tmpPath(spec)}`,
      // root@localhost with an empty password (locked down to the socket by bootstrap): works
      // for any OS user, unlike unix_socket authentication
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      '--skip-name-resolve',
    ];
    // One script, so a remote host pays one ssh round trip: reuse initialized data; refuse a
    // non-empty dir without system tables; else init (a failed init of a dir that was empty is
    // wiped and tried once more).
    const d = shq(data);
    const script = [
      `mkdir -p ${shq(tmpPath(spec))} || exit 1`,
      `if [ -e ${d}/mysql ]; then exit 0; fi`,
      `if [ -n "$(ls -A ${d} 2>/dev/null)" ]; then exit 3; fi`,
      'for attempt in 1 2; do',
      `  rm -rf ${d} && mkdir -p ${d} || exit 1`,
      `  out=$(mariadb-install-db ${installArgs.map(shq).join(' ')} 2>&1) && { echo ezctl-initialized; exit 0; }`,
      '  rc=$?',
      'done',
      'printf \'exit %s: %s\\n\' "$rc" "$out" | tail -n 3 >&2',
      'exit 4',
    ].join('\n');
    const r = await host.run('sh', ['-c', script], { timeoutMs: 240_000 });
    if (r.exitCode === 0) {
      if (r.stdout.includes('ezctl-initialized')) initialized.add(`${host.name}\n${data}`);
      return;
    }
    if (r.exitCode === 3)
      throw new EzError(
        'EZ_BAD_DATADIR',
        `${spec.name}: ${data} is not empty but has no system tables (an interrupted init?): ` +
          'move it away or run `ezctl down --purge`',
      );
    throw new EzError(
      'EZ_INIT_FAILED',
      `${spec.name}: mariadb-install-db failed (${r.stderr.trim().split('\n').join(' | ') || `exit ${r.exitCode}`})`,
    );
  },

  async command(spec, host): Promise<LaunchCommand> {
    // prepare made the tmpdir
    const data = dataPath(spec);
    const id = String(spec.params.serverId);
    return {
      cmd: 'mariadbd',
      args: [
        '--no-defaults',
        ...(host.user === 'root' ? ['--user=root'] : []),
        `--datadir=${data}`,
        `--port=${spec.port}`,
        `--bind-address=${spec.address}`,
        `--socket=${spec.params.socket}`,
        `--pid-file=${join(spec.dataDir, 'mysqld.pid')}`,
        `--tmpdir=${tmpPath(spec)}`,
        '--skip-name-resolve',
        `--server-id=${id}`,
        `--gtid-domain-id=${id}`,
        `--log-bin=${join(data, 'mysql-bin')}`,
        '--binlog-format=ROW',
        '--binlog-row-image=FULL',
        '--binlog-row-metadata=FULL',
        '--innodb-buffer-pool-size=64M',
        '--character-set-server=utf8mb4',
        '--collation-server=utf8mb4_unicode_ci',
      ],
    };
  },

  async ready(spec, host) {
    // on a remote host: its port accepting a connection (MariaDB listens once it is ready for
    // connections, socket included), asked from here without an ssh round trip
    if (host.remote) return (await host.probeTcp(spec.port, { timeoutMs: 1000 })) !== null;
    // `ping` answers 0 once the server accepts connections, even before the accounts exist
    const c = rootClient(spec);
    const r = await host.run('mariadb-admin', [...c.args, '--connect-timeout=2', 'ping'], {
      env: c.env,
      timeoutMs: 5000,
    });
    return r.exitCode === 0;
  },

  async bootstrap(spec, host) {
    const accounts = {
      root: mysqlAccount('root'),
      app: mysqlAccount('app'),
      reader: mysqlAccount('reader'),
      applier: mysqlAccount('applier'),
    };
    const schema = spec.params.schemaFile ? readFileSync(spec.params.schemaFile, 'utf8') : '';
    const sql = bootstrapSql(
      spec.params.database,
      schema,
      accounts,
      // peers (DRC through the link server, the DAL of another eZone, the harness) log in by address
      isLoopback(spec.address) ? undefined : ['127.0.0.1', 'localhost', '%'],
    );
    // a datadir prepare just made has an empty root password; a configured one applies from then on
    const key = `${host.name}\n${dataPath(spec)}`;
    const fresh = initialized.delete(key);
    let r = await runSql(spec, host, sql, fresh ? '' : accounts.root.password);
    if (!r.ok && !fresh && accounts.root.password && /Access denied/.test(r.stderr))
      r = await runSql(spec, host, sql, ''); // data made before a root password was configured
    if (!r.ok) throw new EzError('EZ_BOOTSTRAP_FAILED', `${spec.name}: bootstrap SQL failed: ${r.stderr}`);
  },

  async stop(spec, host, pid, startToken) {
    await terminate(host, pid, {
      startToken,
      graceMs: 30_000,
      // the documented clean stop; SIGTERM (its fallback) is equally clean for mariadbd
      graceful: async () => {
        const c = rootClient(spec);
        const r = await host.run('mariadb-admin', [...c.args, '--connect-timeout=2', 'shutdown'], {
          env: c.env,
          timeoutMs: 10_000,
        });
        return r.exitCode === 0;
      },
    });
  },

  endpoints(spec) {
    return { socket: spec.params.socket };
  },
};
