/**
 * How a long-running part gets its routing source from its flags: the SDK's GZS client (with its
 * cache file), or the topology's static epoch-1 table (`--static`, tests and offline tools).
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { flag } from '../runtime/flags.js';
import type { Topology } from '../topology/index.js';
import { defaultHolderId, RoutingClient } from './client.js';
import { StaticRoutingSource } from './static.js';
import type { RoutingSource } from './types.js';

/** The flags of every part that routes. */
export const routingFlags = {
  gzs: flag.urls('GZS URL(s), tried in turn (repeatable, comma-separated); none: the static table', {
    env: 'EZ_GZS_URL',
  }),
  static: flag.bool("route from the topology's epoch-1 table, never asking GZS"),
  'cache-file': flag.file('the SDK cache file: routing survives a restart while GZS is down'),
};

export interface OpenSourceOptions {
  topology: Topology;
  /** GZS URLs; none (or `static`) → the topology's epoch-1 table, never changing */
  gzs?: string[];
  static?: boolean;
  /** the SDK's cache file (routing keeps working from it while GZS is away, also after a restart) */
  cacheFile?: string;
  /** who holds the table, for GZS's acknowledgements: kind `router` / `soa` / `orders` / `dal`, and its eZone */
  holder: { kind: string; zone: string | null };
  /** the holder's ack gate (the DAL: acknowledge an epoch only once its fences are complete) */
  ackableEpoch?: (held: number) => number;
  /** how long to wait for GZS when there is no cache file (default: the SDK's 10 s) */
  startTimeoutMs?: number;
  registry?: Registry;
  log: Logger;
}

/** The routing source of a long-running part: the SDK's GZS client, or a static table. */
export async function openRoutingSource(o: OpenSourceOptions): Promise<RoutingSource> {
  if (o.static || !o.gzs || o.gzs.length === 0) {
    o.log.info({ epoch: 1 }, 'routing from the topology table (static, no GZS)');
    return StaticRoutingSource.fromTopology(o.topology);
  }
  const client = await RoutingClient.start({
    gzs: o.gzs,
    topology: o.topology,
    cacheFile: o.cacheFile,
    holder: { id: defaultHolderId(o.holder.kind, o.holder.zone), kind: o.holder.kind, zone: o.holder.zone },
    ackableEpoch: o.ackableEpoch,
    startTimeoutMs: o.startTimeoutMs,
    registry: o.registry,
    log: o.log,
  });
  o.log.info({ gzs: o.gzs, epoch: client.epoch, cacheFile: o.cacheFile }, 'routing from GZS (SDK client)');
  return client;
}
