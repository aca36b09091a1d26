/**
 * `clock`: one eZone's order service runs with its clock `offsetMs` ahead (+) or behind (−) the
 * host's — the time in the order ids it makes (what the failover's order-lock rule compares). The
 * service is SIGKILLed and restarted by `up()` with EZ_CLOCK_OFFSET_MS in its environment (a spawn
 * inherits ours); stop restarts it without. Refused (nothing done) while another recorded process
 * is down, since that restart would inherit the offset too.
 */
import { status } from '../../src/launch/index.js';
import { killMatching, restartDown } from './kill.js';
import { type Nemesis, type NemesisContext, NemesisNotDone } from './types.js';

const ENV = 'EZ_CLOCK_OFFSET_MS';

async function restartWith(
  ctx: NemesisContext,
  name: string,
  offsetMs: number,
): Promise<Record<string, unknown>> {
  const s = await status(ctx.topology, { stateDir: ctx.stateDir });
  const down = s.processes.filter((p) => !p.alive && p.name !== name).map((p) => p.name);
  if (down.length > 0)
    throw new NemesisNotDone(`clock: ${down.join(', ')} down: a restart now would skew their clocks too`);
  const killed = await killMatching(ctx, name, (r) => r.name === name);
  const before = process.env[ENV];
  process.env[ENV] = String(offsetMs);
  try {
    return { offsetMs, ...killed, ...(await restartDown(ctx)) };
  } finally {
    if (before === undefined) delete process.env[ENV];
    else process.env[ENV] = before;
  }
}

export function clockNemesis(o: { zone: string; offsetMs: number }): Nemesis {
  const name = `orders@${o.zone}`;
  return {
    name: 'clock',
    value: { zone: o.zone, offsetMs: o.offsetMs, process: name },
    describe: () => `clock of ${name} ${o.offsetMs >= 0 ? '+' : ''}${o.offsetMs} ms`,
    start: (ctx) => restartWith(ctx, name, o.offsetMs),
    stop: (ctx) => restartWith(ctx, name, 0),
  };
}
