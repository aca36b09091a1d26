// Launcher kind `redis`: one Redis per eZone, a cache without persistence.
import { join } from 'node:path';
import { terminate } from '../host.js';
import { type InstanceSpec, instanceName, type ProcessKind } from './types.js';

export type RedisParams = Record<string, never>;

export function redisSpec(o: {
  zone?: string;
  name?: string;
  host?: string;
  /** the address it binds to (its host's; default 127.0.0.1) */
  address?: string;
  port: number;
  dataDir: string;
}): InstanceSpec<RedisParams> {
  return {
    name: o.name ?? instanceName('redis', o.zone),
    kind: 'redis',
    zone: o.zone,
    host: o.host ?? 'local',
    address: o.address ?? '127.0.0.1',
    port: o.port,
    dataDir: o.dataDir,
    logFile: join(o.dataDir, 'redis.log'),
    params: {},
  };
}

const configFile = (spec: InstanceSpec<RedisParams>): string => join(spec.dataDir, 'redis.conf');
/** Secrets are base64url (no quotes or spaces); quoted anyway, as redis.conf and inline commands read "…". */
const redisQuote = (s: string): string => `"${s.replace(/["\\]/g, '\\$&')}"`;

/** Redis per eZone: a cache only (no RDB, no AOF), so a restart starts empty. */
export const redis: ProcessKind<RedisParams> = {
  kind: 'redis',
  after: [],
  readyTimeoutMs: 15_000,
  description: 'Redis per eZone (cache: no persistence)',

  instances({ topology, dataDir, hostOf }) {
    return topology.zones.map((z) => {
      const d = topology.deployment.zones[z.id];
      return redisSpec({
        zone: z.id,
        ...hostOf(z.id, 'redis'),
        port: d.ports.redis,
        dataDir: dataDir(z.id, 'redis'),
      });
    });
  },

  async prepare(spec, host) {
    // writeFile makes the data dir too (one ssh round trip on a remote host)
    // the password lives in a 0600 file, not on the command line (`ps` shows that); none: an empty file
    const password = process.env.EZ_REDIS_PASSWORD;
    await host.writeFile(configFile(spec), password ? `requirepass ${redisQuote(password)}\n` : '', 0o600);
  },

  async command(spec) {
    return {
      cmd: 'redis-server',
      args: [
        configFile(spec),
        '--port',
        String(spec.port),
        '--bind',
        spec.address,
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
    const password = process.env.EZ_REDIS_PASSWORD;
    const auth = password ? `AUTH ${redisQuote(password)}\r\n` : '';
    const reply = await host.probeTcp(spec.port, {
      send: `${auth}PING\r\n`,
      until: 'PONG\r\n',
      timeoutMs: 1000,
    });
    return reply?.includes('+PONG') ?? false;
  },

  async stop(_spec, host, pid, startToken) {
    // SIGTERM is Redis's clean shutdown (nothing to save here)
    await terminate(host, pid, { startToken, graceMs: 10_000 });
  },
};
