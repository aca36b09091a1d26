/**
 * `history.jsonl`: the history written as it happens (one JSON event per line, appended in order)
 * and read back — a drill can be checked again from the file alone (`ezctl drill check`).
 */
import { appendFileSync, closeSync, fsyncSync, openSync, readFileSync } from 'node:fs';
import type { ClientEvent, HistoryEvent, NemesisEvent } from './events.js';

type NewEvent<E extends HistoryEvent> = Omit<E, 'index' | 'time' | 'wall'>;

/** Appends events to a file (and keeps them in memory); `time` is ms since the writer was made. */
export class HistoryWriter {
  readonly events: HistoryEvent[] = [];
  private readonly t0 = performance.now();
  private fd: number | null;

  constructor(readonly file: string | null) {
    this.fd = file ? openSync(file, 'a') : null;
  }

  /** ms since the drill started */
  now(): number {
    return Math.round((performance.now() - this.t0) * 1000) / 1000;
  }

  add<E extends HistoryEvent>(e: NewEvent<E>): E {
    const full = { index: this.events.length, time: this.now(), wall: Date.now(), ...e } as unknown as E;
    this.events.push(full);
    // synchronous append: a drill killed halfway leaves every event written so far on disk
    if (this.fd !== null) appendFileSync(this.fd, `${JSON.stringify(full)}\n`);
    return full;
  }

  client(e: NewEvent<ClientEvent>): ClientEvent {
    return this.add<ClientEvent>(e);
  }

  nemesis(e: Omit<NewEvent<NemesisEvent>, 'process'>): NemesisEvent {
    return this.add<NemesisEvent>({ ...e, process: 'nemesis' });
  }

  close(): void {
    if (this.fd === null) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = null;
  }
}

/** Read a history file; a line that is not an event names its line number. */
export function readHistory(file: string): HistoryEvent[] {
  const text = readFileSync(file, 'utf8');
  const out: HistoryEvent[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    let e: HistoryEvent;
    try {
      e = JSON.parse(line) as HistoryEvent;
    } catch (err) {
      throw new Error(`${file}:${i + 1}: not JSON (${(err as Error).message})`);
    }
    if (typeof e !== 'object' || e === null || typeof e.type !== 'string' || e.process === undefined)
      throw new Error(
        `${file}:${i + 1}: not a history event (expected {index, time, wall, type, process, f, …})`,
      );
    out.push(e);
  }
  return out;
}
