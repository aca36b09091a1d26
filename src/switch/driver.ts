/**
 * What every switch command shares: the GZS client and this driver's holder id, the journal
 * entry's lease kept alive while the driver works, progress events, and the MariaDB of an eZone
 * as the control machine reaches it.
 */
import { hostname, userInfo } from 'node:os';
import type { GzsApi, SwitchEntry } from '../gzs/index.js';
import type { Topology } from '../topology/index.js';
import { errorMessage } from '../util/errors.js';

export interface SwitchEvent {
  /** lock, acked, positioned, caught-up, switch, done, rollback, wait, refused … */
  step: string;
  /** ms since the switch began */
  atMs: number;
  detail?: string;
}

export interface DriverOptions {
  topology: Topology;
  gzs: GzsApi;
  /** this driver's id in the journal's lease (default `ezctl/<user>@<host>:<pid>`) */
  holder?: string;
  onProgress?: (e: SwitchEvent) => void;
}

export function defaultHolder(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (a container): keep "unknown"
  }
  return `ezctl/${user}@${hostname()}:${process.pid}`;
}

/** Keeps a journal entry's lease alive until stopped; `lost` says why it could not (taken over, ended). */
export class LeaseKeeper {
  lost: string | null = null;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly gzs: GzsApi,
    readonly entry: Pick<SwitchEntry, 'id' | 'lease'>,
    readonly holder: string,
  ) {
    const every = Math.max(100, Math.floor(entry.lease.ms / 3));
    this.timer = setInterval(() => {
      gzs.switchAction(entry.id, 'heartbeat', { holder }).catch((err) => {
        const code = (err as { code?: string }).code;
        // GZS unreachable for a moment is no reason to stop; someone else driving is
        if (code === 'EZ_SWITCH_HELD' || code === 'EZ_SWITCH_STATE' || code === 'EZ_NO_SWITCH')
          this.lost = errorMessage(err);
      });
    }, every);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** A clock for progress events: ms since `start`. */
export function stopwatch(onProgress?: (e: SwitchEvent) => void) {
  const t0 = performance.now();
  return {
    t0,
    ms: () => Math.round(performance.now() - t0),
    say: (step: string, detail?: string) =>
      onProgress?.({ step, atMs: Math.round(performance.now() - t0), detail }),
  };
}
