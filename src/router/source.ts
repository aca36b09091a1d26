import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { defaultHolderId, RoutingClient } from '../sdk/client.js';
import { StaticRoutingSource } from '../sdk/static.js';
import type { RoutingSource } from '../sdk/types.js';
import type { Topology } from '../topology/types.js';

export interface OpenSourceOptions {
  topology: Topology;
  /** GZS URLs; none (or `static`) → the topology's epoch-1 table, never changing */
  gzs: string[];
  static: boolean;
  /** the SDK's cache file (routing keeps working from it while GZS is away, also after a restart) */
  cacheFile?: string;
  /** who holds the table, for GZS's acknowledgements: kind `router` / `soa` / `app`, and its eZone */
  holder: { kind: string; zone: string | null };
  registry?: Registry;
  log: Logger;
}

/** The routing source of a long-running part: the SDK's GZS client, or a static table. */
export async function openRoutingSource(o: OpenSourceOptions): Promise<RoutingSource> {
  if (o.static || o.gzs.length === 0) {
    o.log.info({ epoch: 1 }, 'routing from the topology table (static, no GZS)');
    return StaticRoutingSource.fromTopology(o.topology);
  }
  const client = await RoutingClient.start({
    gzs: o.gzs,
    topology: o.topology,
    cacheFile: o.cacheFile,
    holder: { id: defaultHolderId(o.holder.kind, o.holder.zone), kind: o.holder.kind, zone: o.holder.zone },
    registry: o.registry,
    log: o.log,
  });
  o.log.info({ gzs: o.gzs, epoch: client.epoch, cacheFile: o.cacheFile }, 'routing from GZS (SDK client)');
  return client;
}
