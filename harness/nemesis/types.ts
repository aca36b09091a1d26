/**
 * A nemesis (Jepsen's word): one kind of fault a drill injects — a link fault, a killed process, a
 * skewed clock — or a one-shot action (a shard move, a failover). Every nemesis has the same shape,
 * so a drill's generator starts and stops them without knowing what they do, and `runNemesis`
 * records each start/stop in the drill history as a nemesis operation (invoke → ok/fail/info).
 */
import type { GzsApi } from '../../src/gzs/index.js';
import type { UpOptions } from '../../src/launch/index.js';
import type { LinkSet } from '../../src/links/index.js';
import type { Topology } from '../../src/topology/index.js';
import type { HistoryWriter } from '../history/index.js';

/** What a nemesis acts on: the cluster (from `ezctl up`), its links, GZS, and the drill's history. */
export interface NemesisContext {
  topology: Topology;
  /** the cluster's state directory (`ezctl up --state-dir`): which process runs where, by pid */
  stateDir: string;
  /** the cluster's links (LinkSet.attach on its link server) */
  links: LinkSet;
  gzs: GzsApi;
  history: HistoryWriter;
  log?: (line: string) => void;
  /** the options the cluster was started with (links, toxiproxy, with): a restart repeats them */
  up?: Omit<UpOptions, 'stateDir'>;
}

export interface Nemesis {
  /** the kind: `partition`, `kill-zone`, `move`, … (the history's `nemesis` field) */
  readonly name: string;
  /** what it targets and with which parameters (the history's `value` field) */
  readonly value: Record<string, unknown>;
  /** one line for logs and reports, e.g. `partition stall between ez-bj and ez-sh` */
  describe(): string;
  /** inject the fault (or perform the action); resolves with what it did or measured */
  start(ctx: NemesisContext): Promise<Record<string, unknown>>;
  /** undo the fault; absent for one-shot actions (`move`, `failover`, `failback`) */
  stop?(ctx: NemesisContext): Promise<Record<string, unknown>>;
}

/**
 * Thrown by a nemesis when it definitely did nothing (a failover refused, a move rolled back): the
 * history records `fail` with the result, not `info` (unknown outcome).
 */
export class NemesisNotDone extends Error {
  constructor(
    message: string,
    readonly result: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'NemesisNotDone';
  }
}
