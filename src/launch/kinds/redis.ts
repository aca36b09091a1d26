// Launcher kind `redis`: one Redis per eZone, a cache without persistence.
import { join } from 'node:path';
import { terminate } from '../host.js';
import { type InstanceSpec, instanceName, type ProcessKind } from './types.js';

export type RedisParams = Record<string, never>;

export function redisSpec(o: {
  zone?: string;
  name?: string;
  host?: string;
  port: number;
  dataDir: string;
}): InstanceSpec<RedisParams> {
  return {
    name: o.name ?? instanceName('redis', o.zone),
    kind: 'redis',
    zone: o.zone,
    host: o.host ?? 'local',
    port: o.port,
    dataDir: o.dataDir,
    logFile: join(o.dataDir, 'redis.log'),
    params: {},
  };
}

/** Redis per eZone: a cache only (no RDB, no AOF), so a restart starts empty. */
export const redis: ProcessKind<RedisParams> = {
  kind: 'redis',
  after: [],
  readyTimeoutMs: 15_000,
  description: 'Redis per eZone (cache: no persistence)',

  instances({ topology, dataDir }) {
    return topology.zones.map((z) => {
      const d = topology.deployment.zones[z.id];
      return redisSpec({ zone: z.id, host: d.host, port: d.ports.redis, dataDir: dataDir(z.id, 'redis') });
    });
  },

  async prepare(spec, host) {
    await host.mkdir(spec.dataDir);
  },

  async command(spec) {
    return {
      cmd: 'redis-server',
      args: [
        '--port',
        String(spec.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        spec.dataDir,
        // the launcher spawns it detached and needs the real pid: no self-daemonizing
        '--daemonize',
        'no',
        '--pidfile',
        join(spec.dataDir, 'redis.pid'),
        '--logfile',
        spec.logFile,
      ],
    };
  },

  async ready(spec, host) {
    const reply = await host.probeTcp(spec.port, { send: 'PING\r\n', until: '\r\n', timeoutMs: 1000 });
    return reply?.startsWith('+PONG') ?? false;
  },

  async stop(_spec, host, pid, startToken) {
    // SIGTERM is Redis's clean shutdown (nothing to save here)
    await terminate(host, pid, { startToken, graceMs: 10_000 });
  },
};
