/**
 * Link nemeses, on the cluster's LinkSet (the fault grammar of src/links/fault.ts):
 * - `latency`: `slow <ms>ms` on an eZone pair (or on every link of one eZone), with optional
 *   jitter (the grammar has none: the two `slow` toxics get a jitter attribute, half each way);
 *   stop removes exactly those toxics (a partition on the same links stays);
 * - `partition`: `partition stall|refuse|blackhole` between two eZones; stop heals that pair;
 * - `isolate`: the same on every link between one eZone and all others (not the edge's links to
 *   it: an eZone cut off from APIRouter is down, which is `kill-zone`'s business); stop heals them.
 */
import type { Proxy as LinkProxy } from 'toxiproxy-node-client';
import { type LinkSet, SLOW } from '../../src/links/index.js';
import type { Nemesis, NemesisContext } from './types.js';

export type PartitionMode = 'stall' | 'refuse' | 'blackhole';

/** `between: [A, B]` or a whole eZone (`to` = `*`, edge excluded). */
interface Target {
  from: string;
  to: string | '*';
}

const targetText = (t: Target): string =>
  t.to === '*' ? `every link of ${t.from}` : `between ${t.from} and ${t.to}`;

const targetValue = (t: Target): Record<string, unknown> =>
  t.to === '*' ? { zone: t.from } : { between: [t.from, t.to] };

async function setJitter(links: LinkSet, proxies: LinkProxy[], jitterMs: number): Promise<void> {
  const up = Math.floor(jitterMs / 2);
  const legs: [string, number][] = [
    [SLOW.up, up],
    [SLOW.down, jitterMs - up],
  ];
  await Promise.all(
    proxies.flatMap((p) =>
      legs.map(async ([name, jitter]) => {
        const toxic = await p.getToxic(name);
        const json = toxic.toJson() as { attributes: Record<string, unknown> };
        await toxic.update({ ...json, attributes: { ...json.attributes, jitter } } as never);
      }),
    ),
  ).catch((err) => {
    throw new Error(`setting jitter on ${links.url}: ${(err as Error).message}`);
  });
}

async function removeSlow(links: LinkSet, proxies: LinkProxy[]): Promise<void> {
  const api = links.client.getApi();
  const mine = new Set([SLOW.up, SLOW.down]);
  await Promise.all(
    proxies.map(async (p) => {
      // only those still there (a heal by someone else may have removed them)
      const { data } = await api.get<{ name: string }[]>(`${p.getPath()}/toxics`);
      for (const t of data) if (mine.has(t.name)) await api.delete(`${p.getPath()}/toxics/${t.name}`);
    }),
  );
}

export function latencyNemesis(o: Target & { latencyMs: number; jitterMs: number }): Nemesis {
  const t: Target = { from: o.from, to: o.to };
  return {
    name: 'latency',
    value: { ...targetValue(t), latencyMs: o.latencyMs, jitterMs: o.jitterMs },
    describe: () =>
      `latency ${o.latencyMs} ms${o.jitterMs ? ` ± ${o.jitterMs} ms` : ''} round trip, ${targetText(t)}`,
    async start(ctx: NemesisContext) {
      const r = await ctx.links.fault(t.from, t.to, `slow ${o.latencyMs}ms`);
      if (o.jitterMs > 0) await setJitter(ctx.links, ctx.links.select(t.from, t.to), o.jitterMs);
      return { fault: r.fault, jitterMs: o.jitterMs, links: r.links };
    },
    async stop(ctx: NemesisContext) {
      const proxies = ctx.links.select(t.from, t.to);
      await removeSlow(ctx.links, proxies);
      return { fault: 'latency removed', links: proxies.map((p) => p.name).sort() };
    },
  };
}

function cutNemesis(name: 'partition' | 'isolate', t: Target, mode: PartitionMode): Nemesis {
  return {
    name,
    value: { ...targetValue(t), mode },
    describe: () => `${name} (${mode}) ${targetText(t)}`,
    async start(ctx: NemesisContext) {
      const r = await ctx.links.fault(t.from, t.to, `partition ${mode}`);
      return { fault: r.fault, links: r.links };
    },
    async stop(ctx: NemesisContext) {
      // the same links as start (for `*`: not the edge's), every fault on them removed
      const r = await ctx.links.fault(t.from, t.to, 'heal');
      return { fault: r.fault, links: r.links };
    },
  };
}

export const partitionNemesis = (o: { between: [string, string]; mode: PartitionMode }): Nemesis =>
  cutNemesis('partition', { from: o.between[0], to: o.between[1] }, o.mode);

export const isolateNemesis = (o: { zone: string; mode: PartitionMode }): Nemesis =>
  cutNemesis('isolate', { from: o.zone, to: '*' }, o.mode);
