/**
 * The recorded history of a workload run: the single source of truth the checkers read (Jepsen's
 * model). Every operation is recorded once when it completes, with what the client asked and
 * what the system answered: `ok` (acknowledged), `fail` (definitely not done: a 4xx, an EZ_LOCKED
 * refusal), or `info` (unknown: a timeout, a connection error, another 5xx — it may or may not
 * have happened). A client error is an entry like any other, never the end of the run.
 */
export type OpKind = 'create' | 'accept' | 'pickup' | 'deliver' | 'cancel';
export type OpResult = 'ok' | 'fail' | 'info';

export interface Op {
  kind: OpKind;
  /** the order (known for create only once acknowledged) */
  orderId?: string;
  /** the routing tag sent */
  tag: string;
  result: OpResult;
  status?: number;
  /**
   * why it was not `ok`, as an EZ_ code: the system's (EZ_LOCKED, EZ_ZONE_UNAVAILABLE, …),
   * `EZ_HTTP_<status>` for an answer without one, `EZ_CLIENT_<code>` for an error below HTTP
   */
  error?: string;
  /** the message of an error below HTTP */
  detail?: string;
  /** X-Ez-Zone / X-Ez-Shard / X-Ez-Epoch of the answer */
  zone?: string;
  shard?: number;
  epoch?: number;
  /** the order's state in the answer (ok only) */
  state?: string;
  startedAt: number;
  ms: number;
}

export class History {
  readonly ops: Op[] = [];

  record(op: Op): void {
    this.ops.push(op);
  }

  /** acknowledged operations of one order, in completion order */
  byOrder(): Map<string, Op[]> {
    const m = new Map<string, Op[]>();
    for (const op of this.ops) {
      if (!op.orderId) continue;
      const list = m.get(op.orderId) ?? [];
      list.push(op);
      m.set(op.orderId, list);
    }
    return m;
  }

  counts(): Record<OpResult, number> {
    const c = { ok: 0, fail: 0, info: 0 };
    for (const op of this.ops) c[op.result]++;
    return c;
  }
}
