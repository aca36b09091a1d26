/**
 * `ezctl shard move --resume`: the journal's open switches whose driver is gone are taken over
 * and ended — rolled back before the point of no return (S stays at A, unlocked), closed after it
 * (S is at B). One whose driver still holds its lease is waited for (at most `waitMs`). GZS's
 * janitor does the same on its own once a lease expires; this does it now and reports.
 */
import type { SwitchEntry } from '../gzs/index.js';
import { BEFORE_NO_RETURN, OPEN_STATES } from '../gzs/index.js';
import { errorMessage } from '../util/errors.js';
import { type DriverOptions, defaultHolder, stopwatch } from './driver.js';

export interface ResumeReport {
  entries: {
    id: string;
    shards: number[];
    from: string;
    to: string;
    was: string;
    now: string;
    how: string;
  }[];
}

export async function resumeSwitches(o: DriverOptions & { waitMs?: number }): Promise<ResumeReport> {
  const holder = o.holder ?? defaultHolder();
  const clock = stopwatch(o.onProgress);
  const out: ResumeReport = { entries: [] };
  const open = (await o.gzs.switches()).entries.filter((e) => OPEN_STATES.has(e.state));
  for (const first of open) {
    let e: SwitchEntry | undefined = first;
    const until = Date.now() + (o.waitMs ?? first.lease.ms + 2000);
    // its driver may still be at work: wait for its lease to run out (or for it to finish)
    while (
      e &&
      OPEN_STATES.has(e.state) &&
      e.lease.holder !== holder &&
      e.lease.expiresAt > Date.now() &&
      Date.now() < until
    ) {
      clock.say(
        'wait',
        `switch ${e.id} (${e.state}) is driven by ${e.lease.holder} until ${new Date(e.lease.expiresAt).toISOString()}`,
      );
      await new Promise((r) => setTimeout(r, Math.min(500, Math.max(50, e!.lease.expiresAt - Date.now()))));
      e = (await o.gzs.switches()).entries.find((x) => x.id === first.id);
    }
    let how = 'ended by its driver';
    if (e && OPEN_STATES.has(e.state)) {
      try {
        if (BEFORE_NO_RETURN.has(e.state)) {
          await o.gzs.switchAction(e.id, 'rollback', {
            holder,
            reason: `resumed by ${holder}: its driver was gone at ${e.state}`,
          });
          how = 'rolled back by this resume';
        } else {
          await o.gzs.switchAction(e.id, 'done', { holder });
          how = 'closed by this resume (it had switched)';
        }
      } catch (err) {
        how = `left as is: ${errorMessage(err)}`;
      }
      e = (await o.gzs.switches()).entries.find((x) => x.id === first.id);
    } else if (e?.rollback?.by.startsWith('gzs/')) how = 'rolled back by GZS (lease expired)';
    const now = e?.state ?? 'gone';
    clock.say(now, `switch ${first.id}: ${first.state} -> ${now} (${how})`);
    out.entries.push({
      id: first.id,
      shards: first.shards,
      from: first.from,
      to: first.to,
      was: first.state,
      now,
      how,
    });
  }
  return out;
}
