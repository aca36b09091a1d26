// What `ezctl links …` shares: the link server URL, listing links with their toxics.
import type { Topology } from '../topology/index.js';
import { loadTopology } from '../topology/index.js';
import { UsageError } from '../util/errors.js';
import { defaultLinksUrl, LinkSet } from './link-set.js';

export { toxiproxyFlag } from './flags.js';

/** What `ezctl links …` needs before acting: the topology and the link server URL. */
export function linksContext(opts: { topology?: string; toxiproxy?: string }): {
  topology: Topology;
  url: string;
} {
  const topology = loadTopology(opts.topology);
  let url = opts.toxiproxy ?? defaultLinksUrl(topology);
  if (!/^https?:\/\//.test(url)) url = `http://${url}`;
  try {
    new URL(url);
  } catch {
    throw new UsageError(`bad --toxiproxy "${opts.toxiproxy}": expected a URL like http://127.0.0.1:8474`);
  }
  return { topology, url: url.replace(/\/+$/, '') };
}

export interface LinkRow {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
  toxics: {
    name: string;
    type: string;
    stream: string;
    toxicity: number;
    attributes: Record<string, unknown>;
  }[];
}

/** Every proxy on the server with its toxics (raw GET /proxies through the client's transport). */
export async function listLinks(url: string, topology: Topology): Promise<LinkRow[]> {
  const set = await LinkSet.attach({ toxiproxy: url, topology });
  const res = await set.client
    .getApi()
    .get<Record<string, LinkRow>>(`${set.url}/proxies`)
    .catch((err: Error) => {
      throw new UsageError(`cannot list links at ${url}: ${err.message}`);
    });
  return Object.values(res.data)
    .map((p) => ({
      name: p.name,
      listen: p.listen,
      upstream: p.upstream,
      enabled: p.enabled,
      toxics: p.toxics ?? [],
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** `latency 15ms ↑` — one toxic, briefly, for the table. */
export function describeToxic(t: LinkRow['toxics'][number]): string {
  const arrow = t.stream === 'upstream' ? '↑' : t.stream === 'downstream' ? '↓' : '↕';
  const a = t.attributes;
  const detail =
    t.type === 'latency'
      ? `${a.latency}ms${a.jitter ? `±${a.jitter}` : ''}`
      : t.type === 'bandwidth'
        ? `${a.rate}KB/s`
        : t.type === 'timeout' || t.type === 'reset_peer'
          ? `${a.timeout}ms`
          : t.type === 'limit_data'
            ? `${a.bytes}B`
            : '';
  return `${t.name}=${t.type}${detail ? ` ${detail}` : ''} ${arrow}${t.toxicity < 1 ? ` (${t.toxicity})` : ''}`;
}
