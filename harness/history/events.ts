/**
 * A drill's history, Jepsen's way (DESIGN §7; issue "Chaos drills"): every client operation is two
 * events — `invoke`, then `ok` (done) / `fail` (definitely not done) / `info` (unknown outcome) —
 * by one logical process; nemesis operations (start/stop of each fault) are events of the process
 * `nemesis` in the same history. Written to `history.jsonl` as it happens, one event per line: the
 * single source of truth every checker and the report read.
 */

/** client operations: the order lifecycle, reads, Global-Zone registrations */
export type ClientF =
  | 'create'
  | 'accept'
  | 'pickup'
  | 'deliver'
  | 'cancel'
  | 'read'
  /** a read of one eZone's own copy, straight at its service (not routed: it may lag the owner) */
  | 'read-local'
  | 'register'
  | 'read-user';
/** nemesis operations: `start`/`stop` of a fault, or a one-shot action (`move`, `failover`, …) */
export type NemesisF = 'start' | 'stop' | 'action';

export type EventType = 'invoke' | 'ok' | 'fail' | 'info';

interface EventBase {
  /** position in the history (0, 1, 2, … in the order written) */
  index: number;
  /** ms since the drill started (monotonic clock) */
  time: number;
  /** Unix ms (wall clock), for joining with logs, binlogs and GZS history */
  wall: number;
  type: EventType;
}

export interface ClientEvent extends EventBase {
  /** the logical client: retired after an `info`, a new id takes over (Jepsen) */
  process: number;
  f: ClientF;
  /** what was asked: the routing tag, the order id or user, the body's fields */
  value: {
    tag?: string;
    orderId?: string;
    user?: string;
    /** read-your-writes asked for (reads of users) */
    ryw?: boolean;
    [k: string]: unknown;
  };
  /** completions only: what the answer carried */
  orderId?: string;
  zone?: string;
  shard?: number;
  epoch?: number;
  status?: number;
  /** an EZ_ code when not ok (the system's, EZ_HTTP_<status>, EZ_CLIENT_<code>) */
  error?: string;
  detail?: string;
  /** the order's state in an ok answer */
  state?: string;
  /** completion time minus invoke time */
  ms?: number;
}

export interface NemesisEvent extends EventBase {
  process: 'nemesis';
  f: NemesisF;
  /** which fault: partition, isolate, kill-zone, kill-drc, kill-gzs, kill-dal, latency, clock, move, failover, failback */
  nemesis: string;
  /** what it targets and with which parameters (eZones, links, shards, …) */
  value: Record<string, unknown>;
  /** completions: what it did or measured (RTO, window, …), or why it failed */
  result?: Record<string, unknown>;
  error?: string;
}

export type HistoryEvent = ClientEvent | NemesisEvent;

export const isClient = (e: HistoryEvent): e is ClientEvent => e.process !== 'nemesis';
export const isNemesis = (e: HistoryEvent): e is NemesisEvent => e.process === 'nemesis';
export const isCompletion = (e: HistoryEvent): boolean => e.type !== 'invoke';

/** An operation: its invoke and its completion (null while open: the drill ended first = info). */
export interface Operation<E extends HistoryEvent = HistoryEvent> {
  invoke: E;
  complete: E | null;
}

/**
 * Pair every invoke with its process's next completion. A process has at most one operation in
 * flight (Jepsen's rule); a completion without an open invoke is a malformed history (thrown).
 */
export function pairOperations<E extends HistoryEvent>(events: readonly E[]): Operation<E>[] {
  const open = new Map<string | number, Operation<E>>();
  const out: Operation<E>[] = [];
  for (const e of events) {
    const key = e.process === 'nemesis' ? `nemesis:${(e as NemesisEvent).nemesis}:${e.f}` : e.process;
    if (e.type === 'invoke') {
      if (open.has(key))
        throw new Error(
          `history line ${e.index}: process ${String(e.process)} invoked again before its operation completed`,
        );
      const op: Operation<E> = { invoke: e, complete: null };
      open.set(key, op);
      out.push(op);
    } else {
      const op = open.get(key);
      if (!op)
        throw new Error(
          `history line ${e.index}: a completion of process ${String(e.process)} with no open invoke`,
        );
      op.complete = e;
      open.delete(key);
    }
  }
  return out;
}
