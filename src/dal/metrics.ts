/**
 * The DAL's Prometheus metrics: statements by kind, refusals by code, the classifier's cache,
 * backend errors and pool use, Global-Zone writes and read-your-writes waits, fences and open
 * transactions, and the epoch held and acknowledged.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export class DalMetrics {
  private readonly statements: Counter<'kind'>;
  private readonly refusals: Counter<'code'>;
  private readonly classify: Histogram;
  private readonly backendErrors: Counter;
  private readonly pooled: Counter<'outcome'>;
  private readonly globalWrites: Histogram;
  private readonly ryw: Histogram<'outcome'>;
  private readonly fences: Counter;
  private readonly waitingGauge: Gauge;
  private waiting = 0;
  /** label children looked up once (prom-client hashes the labels on every inc otherwise) */
  private readonly byKind = new Map<string, { inc(): void }>();
  private readonly byCode = new Map<string, { inc(): void }>();
  private classifyCalls = 0;

  constructor(
    registry: Registry,
    view: {
      sessions(): number;
      openTransactions(): number;
      epoch(): number;
      acknowledged(): number;
      cache(): { hits: number; misses: number; parses: number; size: number };
    },
  ) {
    const registers = [registry];
    this.statements = new Counter({
      name: 'ezdal_statements_total',
      help: 'statements let through, by kind (read, insert, update, delete, ddl, txn, session, global-*)',
      labelNames: ['kind'],
      registers,
    });
    this.refusals = new Counter({
      name: 'ezdal_refusals_total',
      help: 'statements (and logins) refused, by code (EZ_WRONG_ZONE, EZ_LOCKED, EZ_NO_SHARD_KEY, …)',
      labelNames: ['code'],
      registers,
    });
    this.classify = new Histogram({
      name: 'ezdal_classify_seconds',
      help: 'time to lex, classify and bind a text query (one in 16 is timed)',
      buckets: [0.000005, 0.00001, 0.00002, 0.00005, 0.0001, 0.001, 0.01],
      registers,
    });
    this.backendErrors = new Counter({
      name: 'ezdal_backend_errors_total',
      help: "answers of this eZone's MariaDB that were errors",
      registers,
    });
    this.pooled = new Counter({
      name: 'ezdal_backend_connections_total',
      help: 'backend connections opened or reused from the pool',
      labelNames: ['outcome'],
      registers,
    });
    this.globalWrites = new Histogram({
      name: 'ezdal_global_write_seconds',
      help: 'Global-Zone writes run on the master eZone (round trip through the link included)',
      buckets: [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2],
      registers,
    });
    this.ryw = new Histogram({
      name: 'ezdal_read_your_writes_wait_seconds',
      help: 'read-your-writes waits for a Global-Zone write to reach this eZone, by outcome',
      labelNames: ['outcome'],
      buckets: [0.001, 0.01, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
      registers,
    });
    this.fences = new Counter({
      name: 'ezdal_fenced_transactions_total',
      help: 'open transactions rolled back because a switch locked or moved their shard',
      registers,
    });
    this.waitingGauge = new Gauge({
      name: 'ezdal_fence_waiting_sessions',
      help: 'sessions the newest epoch is waiting for before the DAL acknowledges it',
      registers,
    });
    new Gauge({
      name: 'ezdal_sessions',
      help: 'client connections',
      registers,
      collect() {
        this.set(view.sessions());
      },
    });
    new Gauge({
      name: 'ezdal_open_transactions',
      help: 'client sessions with an open transaction',
      registers,
      collect() {
        this.set(view.openTransactions());
      },
    });
    new Gauge({
      name: 'ezdal_epoch',
      help: 'epoch of the routing table the DAL judges writes with',
      registers,
      collect() {
        this.set(view.epoch());
      },
    });
    new Gauge({
      name: 'ezdal_acknowledged_epoch',
      help: 'newest epoch whose fences are complete (what the DAL acknowledges to GZS)',
      registers,
      collect() {
        this.set(view.acknowledged());
      },
    });
    new Gauge({
      name: 'ezdal_plan_cache',
      help: 'statement classifier cache: hits, misses, parses (node-sql-parser runs), size',
      labelNames: ['what'],
      registers,
      collect() {
        const c = view.cache();
        this.set({ what: 'hits' }, c.hits);
        this.set({ what: 'misses' }, c.misses);
        this.set({ what: 'parses' }, c.parses);
        this.set({ what: 'size' }, c.size);
      },
    });
  }

  statement(kind: string): void {
    let c = this.byKind.get(kind);
    if (!c) {
      c = this.statements.labels(kind);
      this.byKind.set(kind, c);
    }
    c.inc();
  }
  refusal(code: string): void {
    let c = this.byCode.get(code);
    if (!c) {
      c = this.refusals.labels(code);
      this.byCode.set(code, c);
    }
    c.inc();
  }
  /** one text query in 16 is timed: the clock and the histogram cost as much as a cached classify */
  shouldTime(): boolean {
    return (this.classifyCalls++ & 15) === 0;
  }
  classified(ms: number): void {
    this.classify.observe(ms / 1000);
  }
  backendError(): void {
    this.backendErrors.inc();
  }
  pool(outcome: 'opened' | 'reused'): void {
    this.pooled.inc({ outcome });
  }
  global(ms: number): void {
    this.globalWrites.observe(ms / 1000);
  }
  rywWait(ms: number, ok: boolean): void {
    this.ryw.observe({ outcome: ok ? 'applied' : 'timeout' }, ms / 1000);
  }
  fenced(): void {
    this.fences.inc();
  }
  fenceWaiting(n: number): void {
    if (n !== this.waiting) {
      this.waiting = n;
      this.waitingGauge.set(n);
    }
  }
}
