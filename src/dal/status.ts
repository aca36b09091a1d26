// `ezctl dal status`: every eZone's DAL as its /healthz says (the eZone's host address, its ports.dalHttp).
import { request } from 'undici';
import { partAddress, type Topology } from '../topology/index.js';
import { errorMessage } from '../util/errors.js';
import { table } from '../util/table.js';
import type { DalHealth } from './server.js';

export interface DalStatus {
  zone: string;
  /** serving: writes judged at GZS's table; cache: from the SDK cache file (GZS unreachable);
   *  not-ready: writes refused (no table yet); down: no answer */
  state: 'serving' | 'cache' | 'static' | 'not-ready' | 'down';
  healthy: boolean;
  ops: string;
  health: DalHealth | null;
  error: string | null;
}

export async function dalStatus(topology: Topology, o: { zone?: string } = {}): Promise<DalStatus[]> {
  const zones = topology.zones.filter((z) => !o.zone || z.id === o.zone);
  return Promise.all(
    zones.map(async (z): Promise<DalStatus> => {
      const ops = `${partAddress(topology, z.id, 'dal')}:${topology.deployment.zones[z.id].ports.dalHttp}`;
      try {
        const res = await request(`http://${ops}/healthz`, { headersTimeout: 2000, bodyTimeout: 2000 });
        const h = (await res.body.json()) as DalHealth;
        const state: DalStatus['state'] = !h.ready
          ? 'not-ready'
          : h.routingFrom === 'cache'
            ? 'cache'
            : h.routingFrom === 'static'
              ? 'static'
              : 'serving';
        return { zone: z.id, state, healthy: h.ready, ops, health: h, error: null };
      } catch (err) {
        return { zone: z.id, state: 'down', healthy: false, ops, health: null, error: errorMessage(err) };
      }
    }),
  );
}

export function formatDalStatus(list: DalStatus[]): string {
  const rows = list.map((s) => {
    const h = s.health;
    if (!h) return [s.zone, s.state, '-', '-', '-', '-', '-', s.error ?? ''];
    const ack = h.acknowledged === null ? `${h.acknowledgeable}` : `${h.acknowledged}`;
    const hit = h.planCache.hitRate === null ? '-' : `${(h.planCache.hitRate * 100).toFixed(1)}%`;
    return [
      s.zone,
      s.state,
      `${h.epoch}/${ack}${h.fenceWaiting > 0 ? ` (fencing ${h.fenceWaiting})` : ''}`,
      String(h.sessions),
      String(h.openTransactions),
      hit,
      h.listen,
      `${h.backend.address}; master ${h.master.zone} via ${h.master.address}`,
    ];
  });
  return table(
    ['EZONE', 'STATE', 'EPOCH/ACKED', 'SESSIONS', 'OPEN TXNS', 'PLAN HITS', 'LISTEN', 'BACKEND'],
    rows,
  );
}
