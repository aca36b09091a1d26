/**
 * APIRouter's outside view of each eZone: every `intervalMs` it asks one upstream of each eZone
 * for `/healthz` (through the same path requests take: the edge link). Any HTTP answer means the
 * eZone is reachable from outside (even a 503: its site answers); no answer within `timeoutMs`
 * means it is not. The failover's "down as seen from outside" verdict reads this (DESIGN §6).
 */
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { request } from 'undici';

export interface ZoneReach {
  reachable: boolean;
  /** ms since the Unix epoch of the last answer, null before the first */
  lastOkAt: number | null;
  /** since when no probe was answered (ms since the Unix epoch), null while reachable */
  unreachableSince: number | null;
  lastError: string | null;
  probes: number;
}

export class ZoneProbe {
  private readonly state = new Map<string, ZoneReach>();
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();

  constructor(
    private readonly upstreams: Record<string, string[]>,
    private readonly o: { intervalMs?: number; timeoutMs?: number; log?: Logger } = {},
  ) {
    for (const z of Object.keys(upstreams))
      this.state.set(z, {
        reachable: false,
        lastOkAt: null,
        unreachableSince: null,
        lastError: null,
        probes: 0,
      });
  }

  start(registry?: Registry): this {
    const interval = this.o.intervalMs ?? 500;
    this.timer = setInterval(() => {
      for (const z of this.state.keys()) void this.probe(z);
    }, interval);
    this.timer.unref();
    for (const z of this.state.keys()) void this.probe(z);
    if (registry) {
      const self = this;
      new Gauge({
        name: 'ez_router_zone_reachable',
        help: "1 while the eZone's service answers APIRouter's probe (/healthz through the edge link)",
        labelNames: ['zone'] as const,
        registers: [registry],
        collect() {
          for (const [z, s] of self.state) this.set({ zone: z }, s.reachable ? 1 : 0);
        },
      });
    }
    return this;
  }

  private async probe(zone: string): Promise<void> {
    const origin = this.upstreams[zone]?.[0];
    const s = this.state.get(zone)!;
    if (!origin) return;
    const timeout = this.o.timeoutMs ?? 1000;
    try {
      const res = await request(`${origin}/healthz`, { headersTimeout: timeout, bodyTimeout: timeout });
      await res.body.dump();
      if (!s.reachable) this.o.log?.info({ zone }, 'eZone reachable from APIRouter');
      Object.assign(s, { reachable: true, lastOkAt: Date.now(), unreachableSince: null, lastError: null });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (s.reachable || s.unreachableSince === null) {
        s.unreachableSince = s.lastOkAt ?? this.startedAt;
        if (s.reachable)
          this.o.log?.warn({ zone, err: e.code ?? e.message }, 'eZone unreachable from APIRouter');
      }
      s.reachable = false;
      s.lastError = e.code ?? e.message;
    }
    s.probes++;
  }

  /** For /healthz: per eZone, reachable or for how long not. */
  view(now = Date.now()): Record<string, ZoneReach & { unreachableForMs: number | null }> {
    return Object.fromEntries(
      [...this.state].map(([z, s]) => [
        z,
        { ...s, unreachableForMs: s.unreachableSince === null ? null : now - s.unreachableSince },
      ]),
    );
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
