import { Counter, Gauge, type Histogram, type Registry } from 'prom-client';
import type { RoutingSource } from '../sdk/index.js';

/** Latency buckets (seconds): a proxy hop is sub-millisecond, a held request up to lockWaitMs. */
const BUCKETS = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** One (shard, status) series of requests_total. */
interface RequestCount {
  labels: { zone: string; shard: string; code: string; route: string };
  n: number;
}

/**
 * Per-target counts, kept in plain numbers: the hot path adds to them without allocating, and
 * /metrics reads them at scrape time. prom-client's own `labels().inc()` / `observe()` build a label
 * hash string and small objects on every call (~1 µs and ~0.6 KB of garbage per request measured in
 * the router). Shard ids are ≤ 1024, statuses a handful: the label set stays bounded.
 */
export class TargetStats {
  readonly counts = new Map<number, RequestCount>();
  /** observations per bucket of BUCKETS (not cumulative); the last one is +Inf */
  readonly buckets = new Float64Array(BUCKETS.length + 1);
  sum = 0;
  total = 0;

  constructor(
    readonly zone: string,
    readonly route: string,
  ) {}

  count(shard: number, status: number, seconds: number): void {
    const key = shard * 1000 + status;
    let c = this.counts.get(key);
    if (c === undefined) {
      const labels = {
        zone: this.zone,
        shard: shard < 0 ? '' : String(shard),
        code: String(status),
        route: this.route,
      };
      c = { labels, n: 0 };
      this.counts.set(key, c);
    }
    c.n++;
    let b = 0;
    while (b < BUCKETS.length && seconds > BUCKETS[b]) b++;
    this.buckets[b]++;
    this.sum += seconds;
    this.total++;
  }
}

/**
 * `<prefix>_request_duration_seconds`, read from the TargetStats at scrape time. A collector object
 * in the shape prom-client's Registry reads from every metric (`get()` → name, help, type, values),
 * since prom-client's Histogram cannot be given counts it did not observe itself.
 */
class DurationHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly help = 'time from request to the end of the answer, by eZone and route';

  constructor(
    readonly name: string,
    private readonly stats: () => Iterable<TargetStats>,
  ) {}

  async get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const s of this.stats()) {
      let acc = 0;
      for (let i = 0; i < BUCKETS.length; i++) {
        acc += s.buckets[i];
        values.push({
          labels: { le: BUCKETS[i], zone: s.zone, route: s.route },
          value: acc,
          metricName: `${this.name}_bucket`,
        });
      }
      const labels = { zone: s.zone, route: s.route };
      values.push({ labels: { le: '+Inf', ...labels }, value: s.total, metricName: `${this.name}_bucket` });
      values.push({ labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: s.total, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {}
}

/**
 * Metrics of a gateway (APIRouter: prefix `ez_router`, SOA Proxy: `ez_soa`). `route` tells how a
 * request was served: `zone` (APIRouter → an eZone's service), `local` / `remote` / `inbound`
 * (SOA Proxy: local service, the owner's SOA Proxy, a call from a peer SOA Proxy), `none` (answered
 * by the gateway itself: 400, 503).
 */
export class GatewayMetrics {
  readonly requests: Counter<string>;
  readonly inFlight: Gauge<string>;
  readonly upstreamErrors: Counter<string>;
  readonly lockHolds: Counter<string>;
  readonly retries: Counter<string>;
  readonly upgrades: Counter<string>;
  private readonly byKey = new Map<string, TargetStats>();
  private inFlightNow = 0;
  private tunnelsNow = 0;

  constructor(registry: Registry, prefix: string, source: RoutingSource) {
    const registers = [registry];
    const self = this;
    this.requests = new Counter({
      name: `${prefix}_requests_total`,
      help: 'requests answered, by eZone, shard, HTTP status and route',
      labelNames: ['zone', 'shard', 'code', 'route'],
      registers,
      // the counts live in TargetStats (counted per request); copied in at scrape time
      collect() {
        this.reset();
        for (const s of self.byKey.values()) for (const c of s.counts.values()) this.inc(c.labels, c.n);
      },
    });
    registry.registerMetric(
      new DurationHistogram(`${prefix}_request_duration_seconds`, () =>
        self.byKey.values(),
      ) as unknown as Histogram,
    );
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
    this.upgrades = new Counter({
      name: `${prefix}_upgrades_total`,
      help: 'connections switched to another protocol (101 from the upstream: WebSocket, …), by eZone and route',
      labelNames: ['zone', 'route'],
      registers,
    });
    new Gauge({
      name: `${prefix}_upgraded_connections`,
      help: 'connections switched to another protocol and still open (not counted as in-flight requests)',
      registers,
      collect() {
        this.set(self.tunnelsNow);
      },
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
      s = new TargetStats(zone, route);
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

  /** a 101 joined a client and an upstream of `zone` (`route`) */
  upgraded(zone: string, route: string): void {
    this.upgrades.labels(zone, route).inc();
    this.tunnelsNow++;
  }

  tunnelClosed(): void {
    this.tunnelsNow--;
  }
}
