// Launcher kind `zookeeper` (optional): a standalone ZooKeeper for GZS HA.
import { join } from 'node:path';
import { UsageError } from '../../util/errors.js';
import { terminate } from '../host.js';
import { type InstanceSpec, instanceName, type ProcessKind } from './types.js';

export type ZooKeeperParams = Record<string, never>;

/** Debian's libzookeeper-java; its manifest Class-Path brings the dependencies. */
const ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar';
/** from libslf4j-java (a dependency): without a binding ZooKeeper logs nothing at all */
const SLF4J_SIMPLE_JAR = '/usr/share/java/slf4j-simple.jar';

export function zookeeperSpec(o: {
  name?: string;
  host?: string;
  /** the address it binds to (its host's; default 127.0.0.1) */
  address?: string;
  port: number;
  dataDir: string;
}): InstanceSpec<ZooKeeperParams> {
  return {
    name: o.name ?? instanceName('zookeeper'),
    kind: 'zookeeper',
    host: o.host ?? 'local',
    address: o.address ?? '127.0.0.1',
    port: o.port,
    dataDir: o.dataDir,
    logFile: join(o.dataDir, 'zookeeper.log'),
    params: {},
  };
}

const configFile = (spec: InstanceSpec<ZooKeeperParams>): string => join(spec.dataDir, 'zoo.cfg');

/**
 * One standalone ZooKeeper for the cluster (GZS HA uses it later). Optional: `ezctl up --with
 * zookeeper` starts it, and only when the topology has `deployment.zookeeper`.
 */
export const zookeeper: ProcessKind<ZooKeeperParams> = {
  kind: 'zookeeper',
  after: [],
  optional: true,
  readyTimeoutMs: 30_000,
  description: 'ZooKeeper 3.8 standalone (only with --with zookeeper)',

  instances({ topology, dataDir, hostOf }) {
    const ep = topology.deployment.zookeeper;
    if (!ep) {
      throw new UsageError(
        `${topology.file}: deployment.zookeeper: required to start zookeeper (e.g. "zookeeper: { host: local, port: 27181 }")`,
      );
    }
    return [
      zookeeperSpec({
        host: ep.host,
        address: hostOf(undefined, 'zookeeper').address,
        port: ep.port,
        dataDir: dataDir(undefined, 'zookeeper'),
      }),
    ];
  },

  async prepare(spec, host) {
    await host.mkdir(join(spec.dataDir, 'data'));
    await host.writeFile(
      configFile(spec),
      [
        'tickTime=2000',
        `dataDir=${join(spec.dataDir, 'data')}`,
        `clientPort=${spec.port}`,
        `clientPortAddress=${spec.address}`,
        // the admin server would take port 8080
        'admin.enableServer=false',
        '4lw.commands.whitelist=ruok,srvr,stat,mntr',
        // every SDK cache of a local cluster connects from 127.0.0.1: no per-IP cap
        'maxClientCnxns=0',
        '',
      ].join('\n'),
    );
  },

  async command(spec, host) {
    const classpath = [ZOOKEEPER_JAR];
    if (await host.exists(SLF4J_SIMPLE_JAR)) classpath.push(SLF4J_SIMPLE_JAR);
    return {
      cmd: 'java',
      args: [
        '-Xms64m',
        '-Xmx256m',
        '-Dorg.slf4j.simpleLogger.showDateTime=true',
        '-cp',
        classpath.join(':'),
        // zkServer.sh insists on /var/log: run the server class directly
        'org.apache.zookeeper.server.ZooKeeperServerMain',
        configFile(spec),
      ],
    };
  },

  async ready(spec, host) {
    // `ruok` answers imok as soon as the process runs; `srvr` names a Mode only once the server
    // serves client sessions (before that: "not currently serving requests")
    const reply = await host.probeTcp(spec.port, { send: 'srvr', until: 'Mode:', timeoutMs: 1000 });
    return reply?.includes('Mode:') ?? false;
  },

  async stop(_spec, host, pid, startToken) {
    await terminate(host, pid, { startToken, graceMs: 10_000 });
  },
};
