// A RoutingSource over a fixed table that changes only when told: tests and offline tools.
import { Resolver, type RoutingTable } from '../routing/index.js';
import type { Topology } from '../topology/index.js';
import type { RoutingSource } from './types.js';

/** A RoutingSource over a table that changes only when told (`setTable`): tests and offline tools. */
export class StaticRoutingSource implements RoutingSource {
  readonly resolver: Resolver;
  private readonly listeners = new Set<(t: RoutingTable) => void>();
  private readonly waiters = new Set<{ epoch: number; done: (ok: boolean) => void }>();

  constructor(resolver: Resolver) {
    this.resolver = resolver;
  }

  static fromTopology(topology: Topology): StaticRoutingSource {
    return new StaticRoutingSource(Resolver.fromTopology(topology));
  }

  get table(): RoutingTable {
    return this.resolver.table;
  }

  get epoch(): number {
    return this.resolver.epoch;
  }

  staleMs(): number {
    return 0;
  }

  setTable(table: RoutingTable): void {
    this.resolver.setTable(table);
    for (const l of this.listeners) l(table);
    for (const w of this.waiters) if (table.epoch >= w.epoch) w.done(true);
  }

  onTable(listener: (table: RoutingTable) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  waitForEpoch(epoch: number, timeoutMs: number): Promise<boolean> {
    if (this.epoch >= epoch) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = {
        epoch,
        done: (ok: boolean) => {
          clearTimeout(timer);
          this.waiters.delete(w);
          resolve(ok);
        },
      };
      const timer = setTimeout(() => w.done(false), timeoutMs);
      this.waiters.add(w);
    });
  }

  async refresh(): Promise<boolean> {
    return false;
  }

  async close(): Promise<void> {
    for (const w of this.waiters) w.done(false);
  }
}
