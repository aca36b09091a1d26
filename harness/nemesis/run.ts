/**
 * Run one nemesis operation and record it in the drill history: `invoke`, then `ok` with what it
 * did, `fail` when it definitely did nothing (refused, rolled back, a usage error before any
 * effect), or `info` when it failed halfway (outcome unknown). Never throws: a drill's generator
 * goes on, and the checkers judge the history.
 */
import type { NemesisEvent } from '../history/index.js';
import { type Nemesis, type NemesisContext, NemesisNotDone } from './types.js';

/** Error codes that mean "nothing was done" (thrown before any effect). */
const NOT_DONE_CODES = new Set(['EZ_USAGE', 'EZ_SWITCH_REFUSED']);

export interface RunNemesisOptions {
  /** give up waiting after this long (default 120 s): recorded as `info`, the operation may go on */
  timeoutMs?: number;
}

export async function runNemesis(
  n: Nemesis,
  op: 'start' | 'stop',
  ctx: NemesisContext,
  opts: RunNemesisOptions = {},
): Promise<NemesisEvent> {
  const f = n.stop ? op : 'action';
  const base = { f, nemesis: n.name, value: n.value } as const;
  ctx.history.nemesis({ ...base, type: 'invoke' });
  ctx.log?.(`nemesis ${op}: ${n.describe()}`);
  if (op === 'stop' && !n.stop) {
    const error = `${n.name} is a one-shot action: there is nothing to stop`;
    ctx.log?.(`nemesis ${op}: ${error}`);
    return ctx.history.nemesis({ ...base, type: 'fail', error });
  }
  const timeoutMs = opts.timeoutMs ?? 120_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const work = op === 'start' ? n.start(ctx) : n.stop!(ctx);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`${n.name} ${op}: no answer within ${timeoutMs} ms (it may still be at work)`)),
        timeoutMs,
      );
    });
    const result = await Promise.race([work, timeout]);
    ctx.log?.(`nemesis ${op} ok: ${n.name} ${JSON.stringify(result)}`);
    return ctx.history.nemesis({ ...base, type: 'ok', result });
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: string })?.code;
    const notDone = err instanceof NemesisNotDone || (code !== undefined && NOT_DONE_CODES.has(code));
    ctx.log?.(`nemesis ${op} ${notDone ? 'fail' : 'info'}: ${n.name}: ${error}`);
    return ctx.history.nemesis({
      ...base,
      type: notDone ? 'fail' : 'info',
      ...(err instanceof NemesisNotDone ? { result: err.result } : {}),
      error: code && !error.startsWith(code) ? `${code}: ${error}` : error,
    });
  } finally {
    clearTimeout(timer);
  }
}
