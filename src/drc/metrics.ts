// Prometheus metrics of one DRC replicator, and the lag summaries its /healthz reports.
import { Counter, Gauge, Histogram, type Registry, Summary } from 'prom-client';
import { createRegistry } from '../util/ops.js';

export const DRC_STATES = [
  'starting',
  'catching-up',
  'running',
  'reconnecting',
  'stopped',
  'stopping',
] as const;
export type DrcState = (typeof DRC_STATES)[number];

/** Lag buckets: 1 ms .. 60 s (heartbeat lag is measured in µs; these buckets resolve ≤ 10 ms below 100 ms). */
const LAG_BUCKETS = [
  0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10,
  30, 60,
];

export interface DrcMetrics {
  registry: Registry;
  state: Gauge<'state'>;
  lagNow: Gauge;
  lag: Histogram;
  lagQuantiles: Summary;
  rowLagQuantiles: Summary;
  appliedRows: Counter;
  appliedTxns: Counter;
  groups: Counter;
  lostRows: Counter;
  duplicateRows: Counter;
  conflicts: Counter<'reason'>;
  illegalWrites: Counter;
  errors: Counter<'kind'>;
  reconnects: Counter;
  queueRows: Gauge;
  groupRows: Histogram;
  applySeconds: Histogram<'phase'>;
}

export function createDrcMetrics(source: string, target: string, lagNow: () => number): DrcMetrics {
  const registry = createRegistry('drc');
  registry.setDefaultLabels({ part: 'drc', source, target });
  const registers = [registry];
  return {
    registry,
    state: new Gauge({
      name: 'ezdrc_state',
      help: 'Replicator state (1 for the current one)',
      labelNames: ['state'],
      registers,
    }),
    lagNow: new Gauge({
      name: 'ezdrc_lag_seconds',
      help: 'Now minus the source commit time of the last heartbeat applied in the target (grows while the source is unreachable)',
      registers,
      collect() {
        const v = lagNow();
        if (Number.isFinite(v)) this.set(v);
      },
    }),
    lag: new Histogram({
      name: 'ezdrc_heartbeat_lag_seconds',
      help: "Heartbeat lag at apply: target commit time minus the heartbeat's commit time in the source (source clock, NOW(6)); one sample per heartbeat, every 100 ms",
      buckets: LAG_BUCKETS,
      registers,
    }),
    lagQuantiles: new Summary({
      name: 'ezdrc_heartbeat_lag_quantiles_seconds',
      help: 'Heartbeat lag quantiles over the last 60 s',
      percentiles: [0.5, 0.9, 0.99, 0.999],
      maxAgeSeconds: 60,
      ageBuckets: 6,
      registers,
    }),
    rowLagQuantiles: new Summary({
      name: 'ezdrc_row_lag_quantiles_seconds',
      help: "Applied transactions: target commit time minus the first row's updated_at (meaningful when writers set updated_at = commit time on the same clock)",
      percentiles: [0.5, 0.9, 0.99, 0.999],
      maxAgeSeconds: 60,
      ageBuckets: 6,
      registers,
    }),
    appliedRows: new Counter({
      name: 'ezdrc_applied_rows_total',
      help: 'Source row changes written in the target',
      registers,
    }),
    appliedTxns: new Counter({
      name: 'ezdrc_applied_transactions_total',
      help: 'Source transactions applied (with rows or heartbeats)',
      registers,
    }),
    groups: new Counter({
      name: 'ezdrc_groups_total',
      help: 'Target transactions (each holds one or more whole source transactions and the checkpoint)',
      registers,
    }),
    lostRows: new Counter({
      name: 'ezdrc_lww_lost_rows_total',
      help: "Source row changes not written because the target's row or tombstone is newer (last-writer-wins)",
      registers,
    }),
    duplicateRows: new Counter({
      name: 'ezdrc_duplicate_rows_total',
      help: 'Source row changes the target already had (same version)',
      registers,
    }),
    conflicts: new Counter({
      name: 'ezdrc_conflicts_total',
      help: 'Conflicts recorded in drc_conflicts, by reason',
      labelNames: ['reason'],
      registers,
    }),
    illegalWrites: new Counter({
      name: 'ezdrc_illegal_writes_total',
      help: 'Row changes written by an eZone that did not own the shard (recorded in drc_illegal_writes)',
      registers,
    }),
    errors: new Counter({
      name: 'ezdrc_errors_total',
      help: 'Errors by kind (source, target, stall, apply, ddl)',
      labelNames: ['kind'],
      registers,
    }),
    reconnects: new Counter({
      name: 'ezdrc_reconnects_total',
      help: 'Sessions restarted from the checkpoint after an error',
      registers,
    }),
    queueRows: new Gauge({
      name: 'ezdrc_queue_rows',
      help: 'Row changes read from the source and not yet applied',
      registers,
    }),
    groupRows: new Histogram({
      name: 'ezdrc_group_rows',
      help: 'Row changes per target transaction',
      buckets: [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000],
      registers,
    }),
    applySeconds: new Histogram({
      name: 'ezdrc_apply_seconds',
      help: 'Time per target transaction, by phase (read = rows FOR UPDATE, write = writes + checkpoint + commit)',
      labelNames: ['phase'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2],
      registers,
    }),
  };
}

/** Quantiles (ms) of a Summary, read from its current state. */
export async function summaryMs(
  s: Summary<string>,
  labels: Record<string, string> = {},
): Promise<Record<string, number | null>> {
  const got = await s.get();
  const out: Record<string, number | null> = { p50: null, p90: null, p99: null, p999: null, count: 0 };
  for (const v of got.values) {
    if (Object.entries(labels).some(([k, x]) => v.labels[k] !== x)) continue;
    const q = v.labels.quantile;
    const ms = Number.isFinite(v.value) ? Math.round(v.value * 1e5) / 100 : null;
    if (q === 0.5) out.p50 = ms;
    else if (q === 0.9) out.p90 = ms;
    else if (q === 0.99) out.p99 = ms;
    else if (q === 0.999) out.p999 = ms;
    else if (v.metricName?.endsWith('_count')) out.count = v.value;
  }
  if (!out.count) out.p50 = out.p90 = out.p99 = out.p999 = null;
  return out;
}

/** Rows per second over a sliding window. */
export class RateWindow {
  private readonly samples: { t: number; n: number }[] = [];
  constructor(private readonly windowMs = 10_000) {}
  add(n: number, t = performance.now()): void {
    this.samples.push({ t, n });
    this.trim(t);
  }
  private trim(now: number): void {
    while (this.samples.length > 0 && now - this.samples[0].t > this.windowMs) this.samples.shift();
  }
  perSecond(now = performance.now()): number {
    this.trim(now);
    const total = this.samples.reduce((s, x) => s + x.n, 0);
    return Math.round((total * 1000) / this.windowMs);
  }
}
