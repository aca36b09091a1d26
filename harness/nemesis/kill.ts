/**
 * Process nemeses: SIGKILL (no cleanup, as a power cut) the processes of the cluster's state that
 * match — every process of one eZone (`kill-zone`), one replicator (`kill-drc`), GZS (`kill-gzs`),
 * one eZone's DAL (`kill-dal`) — and on stop restart what is not running with the launcher's own
 * `up()` (it keeps what runs and starts what does not, readiness probes included). Note: the restart
 * starts every recorded process that is down, also one another nemesis killed.
 */
import { type Host, hostFor, readState, up, waitGone } from '../../src/launch/index.js';
import { drcInstanceName } from '../../src/topology/index.js';
import type { Nemesis, NemesisContext } from './types.js';

interface Victim {
  name: string;
  kind: string;
  zone: string | null;
  pid: number;
}

/** SIGKILL every recorded process `match` selects; names what it killed and what was already down. */
export async function killMatching(
  ctx: NemesisContext,
  what: string,
  match: (r: { name: string; kind: string; zone: string | null }) => boolean,
): Promise<Record<string, unknown>> {
  const state = readState(ctx.stateDir, ctx.topology.name, ctx.topology.file);
  const records = Object.values(state.processes).filter(match);
  if (records.length === 0)
    throw new Error(
      `no process of ${what} is recorded in ${ctx.stateDir} (is the cluster up? \`ezctl status\`)`,
    );
  const killedAt = Date.now();
  const killed: Victim[] = [];
  const alreadyDown: string[] = [];
  await Promise.all(
    records.map(async (r) => {
      const host: Host = hostFor(r.host, ctx.topology);
      // by pid and start token, never by name: a reused pid is not ours
      if (!(await host.isAlive(r.pid, r.startToken)) || !(await host.signal(r.pid, 'SIGKILL'))) {
        alreadyDown.push(r.name);
        return;
      }
      if (!(await waitGone(host, r.pid, 5000, r.startToken)))
        throw new Error(`${r.name} (pid ${r.pid}) survived SIGKILL for 5 s`);
      killed.push({ name: r.name, kind: r.kind, zone: r.zone, pid: r.pid });
    }),
  );
  killed.sort((a, b) => a.name.localeCompare(b.name));
  return { killedAt, killed, alreadyDown: alreadyDown.sort() };
}

/** `up()` with the cluster's options: restarts what is not running; names what it started. */
export async function restartDown(ctx: NemesisContext): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const started: string[] = [];
  const s = await up(ctx.topology, { ...ctx.up, stateDir: ctx.stateDir }, (e) => {
    if (e.type === 'ready') started.push(e.name);
    if (e.type === 'starting') ctx.log?.(`restart ${e.name}: ${e.message ?? ''}`);
  });
  return {
    restarted: started.sort(),
    ms: Math.round(performance.now() - t0),
    healthy: s.healthy,
  };
}

function killNemesis(
  name: string,
  value: Record<string, unknown>,
  what: string,
  match: (r: { name: string; kind: string; zone: string | null }) => boolean,
): Nemesis {
  return {
    name,
    value,
    describe: () => `SIGKILL ${what} (restarted on stop)`,
    start: (ctx) => killMatching(ctx, what, match),
    stop: (ctx) => restartDown(ctx),
  };
}

export const killZoneNemesis = (o: { zone: string }): Nemesis =>
  killNemesis('kill-zone', { zone: o.zone }, `every process of ${o.zone}`, (r) => r.zone === o.zone);

/** The replicator that applies `from`'s changes in `to` (`drc@<to><-<from>`, it runs in `to`). */
export const killDrcNemesis = (o: { from: string; to: string }): Nemesis => {
  const name = drcInstanceName(o.from, o.to);
  return killNemesis('kill-drc', { from: o.from, to: o.to, process: name }, name, (r) => r.name === name);
};

export const killGzsNemesis = (): Nemesis => killNemesis('kill-gzs', {}, 'GZS', (r) => r.kind === 'gzs');

export const killDalNemesis = (o: { zone: string }): Nemesis =>
  killNemesis(
    'kill-dal',
    { zone: o.zone },
    `the DAL of ${o.zone}`,
    (r) => r.kind === 'dal' && r.zone === o.zone,
  );
