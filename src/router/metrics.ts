import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { RoutingSource } from '../sdk/types.js';

/** Latency buckets (seconds): a proxy hop is sub-millisecond, a held request up to lockWaitMs. */
const BUCKETS = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

type CounterChild = ReturnType<Counter<string>['labels']>;
type HistogramChild = ReturnType<Histogram<string>['labels']>;

/**
 * Per-target counters, children cached: prom-client's `labels()` builds a new child on every call,
 * so the hot path keeps one per (shard, status) instead. Shard ids are ≤ 1024, statuses a handful:
 * the label set stays bounded.
 */
export class TargetStats {
  private readonly children = new Map<number, CounterChild>();
  readonly latency: HistogramChild;

  constructor(
    private readonly metrics: GatewayMetrics,
    readonly zone: string,
    readonly route: string,
  ) {
    this.latency = metrics.duration.labels(zone, route);
  }

  count(shard: number, status: number, seconds: number): void {
    const key = shard * 1000 + status;
    let c = this.children.get(key);
    if (c === undefined) {
      c = this.metrics.requests.labels(this.zone, shard < 0 ? '' : String(shard), String(status), this.route);
      this.children.set(key, c);
    }
    c.inc();
    this.latency.observe(seconds);
  }
}

/**
 * Metrics of a gateway (APIRouter: prefix `ez_router`, SOA Proxy: `ez_soa`). `route` tells how a
 * request was served: `zone` (APIRouter → an eZone's service), `local` / `remote` / `inbound`
 * (SOA Proxy: local service, the owner's SOA Proxy, a call from a peer SOA Proxy), `none` (answered
 * by the gateway itself: 400, 503).
 */
export class GatewayMetrics {
  readonly requests: Counter<string>;
  readonly duration: Histogram<string>;
  readonly inFlight: Gauge<string>;
  readonly upstreamErrors: Counter<string>;
  readonly lockHolds: Counter<string>;
  readonly retries: Counter<string>;
  private readonly byKey = new Map<string, TargetStats>();
  private inFlightNow = 0;

  constructor(registry: Registry, prefix: string, source: RoutingSource) {
    const registers = [registry];
    this.requests = new Counter({
      name: `${prefix}_requests_total`,
      help: 'requests answered, by eZone, shard, HTTP status and route',
      labelNames: ['zone', 'shard', 'code', 'route'],
      registers,
    });
    this.duration = new Histogram({
      name: `${prefix}_request_duration_seconds`,
      help: 'time from request to the end of the answer, by eZone and route',
      labelNames: ['zone', 'route'],
      buckets: BUCKETS,
      registers,
    });
    const self = this;
    this.inFlight = new Gauge({
      name: `${prefix}_in_flight_requests`,
      help: 'requests being answered now',
      registers,
      // a plain number on the hot path; prom-client reads it at scrape time
      collect() {
        this.set(self.inFlightNow);
      },
    });
    this.upstreamErrors = new Counter({
      name: `${prefix}_upstream_errors_total`,
      help: 'failed calls to an upstream, by eZone, upstream and reason',
      labelNames: ['zone', 'upstream', 'reason'],
      registers,
    });
    this.lockHolds = new Counter({
      name: `${prefix}_lock_holds_total`,
      help: 'requests held because their shard was locked, by outcome (released, timeout)',
      labelNames: ['outcome'],
      registers,
    });
    this.retries = new Counter({
      name: `${prefix}_retries_total`,
      help: 'requests sent a second time after a 421 (retried) or passed through (not-replayable)',
      labelNames: ['outcome'],
      registers,
    });
    new Gauge({
      name: `${prefix}_routing_epoch`,
      help: 'epoch of the routing table this process routes with',
      registers,
      collect() {
        this.set(source.epoch);
      },
    });
    new Gauge({
      name: `${prefix}_routing_stale_seconds`,
      help: 'seconds since the routing source last heard from GZS (0: static table)',
      registers,
      collect() {
        this.set(source.staleMs() / 1000);
      },
    });
  }

  stats(zone: string, route: string): TargetStats {
    const key = `${zone}\u0000${route}`;
    let s = this.byKey.get(key);
    if (s === undefined) {
      s = new TargetStats(this, zone, route);
      this.byKey.set(key, s);
    }
    return s;
  }

  begin(): void {
    this.inFlightNow++;
  }

  end(): void {
    this.inFlightNow--;
  }

  get inFlightCount(): number {
    return this.inFlightNow;
  }
}
