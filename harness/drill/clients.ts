/**
 * The drill's clients and generator (Jepsen's client + generator): logical processes run order
 * lives through APIRouter (create → accept → pick up → deliver, or cancel), read orders, register
 * users (Global Zone) and read them back, each operation an `invoke` and a completion in the
 * history. Lives are drawn up front from the seed and started at the drill's rate, so one seed
 * gives the same operations whatever the timing; a process whose operation ended `info` is retired
 * and a new process id takes over (Jepsen's rule: its operation may still be in flight).
 */
import { Agent } from 'undici';
import { FenceIndex } from '../../src/routing/index.js';
import { partAddress, type Topology } from '../../src/topology/index.js';
import { seededRandom } from '../../src/util/random.js';
import type { ClientEvent, ClientF } from '../history/index.js';
import type { HistoryWriter } from '../history/store.js';
import { callRouter } from '../workload/client.js';
import { orderPlan, pointSampler } from '../workload/generator.js';

export interface ClientOptions {
  topology: Topology;
  routerUrl: string;
  history: HistoryWriter;
  seed: number;
  /** lives started per second */
  rate: number;
  concurrency: number;
  cancelRate: number;
  reads: number;
  registrations: number;
  timeoutMs: number;
  /** no life starts after this (ms since the history's start) */
  untilMs: number;
  signal?: AbortSignal;
}

/** One order's life as drawn from the seed. */
export interface Life {
  n: number;
  tag: string;
  steps: Exclude<ClientF, 'read' | 'register' | 'read-user'>[];
  /** after which steps a read of the order follows */
  readAfter: boolean[];
  /** per read: which eZone's own copy is read directly (-1: through APIRouter, at the owner) */
  readZone: number[];
  register: boolean;
}

/** The lives a seed gives, in order (the same for the same seed and count). */
export function drawLives(
  topology: Topology,
  seed: number,
  count: number,
  o: Pick<ClientOptions, 'cancelRate' | 'reads' | 'registrations'>,
): Life[] {
  const random = seededRandom(seed);
  const sample = pointSampler(topology.fences, FenceIndex.build(topology.fences), random);
  return Array.from({ length: count }, (_, n) => {
    const at = sample();
    const steps = orderPlan(random, o.cancelRate) as Life['steps'];
    return {
      n,
      tag: `geo=${at.lat},${at.lng}`,
      steps,
      readAfter: steps.map(() => random() < o.reads),
      // half the reads ask an eZone's own copy straight (a user of another region; the
      // invalidator must have cleared what its cache held)
      readZone: steps.map(() => (random() < 0.5 ? Math.floor(random() * topology.zones.length) : -1)),
      register: random() < o.registrations,
    };
  });
}

export interface ClientTotals {
  lives: number;
  ops: number;
  ok: number;
  fail: number;
  info: number;
  processes: number;
}

export async function runClients(o: ClientOptions): Promise<ClientTotals> {
  const lives = drawLives(o.topology, o.seed, Math.ceil((o.rate * o.untilMs) / 1000) + 1, o);
  const agent = new Agent({ connections: Math.max(16, o.concurrency * 2), keepAliveTimeout: 10_000 });
  const totals: ClientTotals = { lives: 0, ops: 0, ok: 0, fail: 0, info: 0, processes: 0 };
  let nextLife = 0;
  let nextProcess = 0;
  const runTag = String(Date.now() % 1e8).padStart(8, '0');
  const zones = o.topology.zones.map((z) => z.id);
  const localUrl = zones.map(
    (z) => `http://${partAddress(o.topology, z, 'orders')}:${o.topology.deployment.zones[z].ports.orders}`,
  );
  const h = o.history;
  const stopped = () => o.signal?.aborted === true || h.now() >= o.untilMs;

  const worker = async (): Promise<void> => {
    let process = nextProcess++;
    /** one operation: invoke, call, completion; a process retires after `info` */
    const op = async (
      f: ClientF,
      value: ClientEvent['value'],
      req: { method: 'GET' | 'POST'; path: string; body?: object; base?: string },
    ) => {
      h.client({ type: 'invoke', process, f, value });
      const a = await callRouter(agent, req.base ?? o.routerUrl, {
        ...req,
        tag: String(value.tag),
        timeoutMs: o.timeoutMs,
      });
      const { body, result, ms, ...seen } = a;
      h.client({ type: result, process, f, value, ...seen, ms: Math.round(ms * 1000) / 1000 });
      totals.ops++;
      totals[result]++;
      if (result === 'info') process = nextProcess++;
      return a;
    };
    while (!stopped() && nextLife < lives.length) {
      const life = lives[nextLife++];
      // open-loop start times: life n starts at n / rate (or at once when behind)
      const due = (life.n * 1000) / o.rate;
      if (due > h.now()) await new Promise((r) => setTimeout(r, due - h.now()));
      if (stopped()) break;
      totals.lives++;
      let orderId: string | undefined;
      for (const [k, step] of life.steps.entries()) {
        const a =
          step === 'create'
            ? await op(
                'create',
                { tag: life.tag, life: life.n, user: `u-${life.n}`, merchant: `m-${life.n % 97}` },
                {
                  method: 'POST',
                  path: '/orders',
                  body: {
                    user: `u-${life.n}`,
                    merchant: `m-${life.n % 97}`,
                    amountCents: 1000 + (life.n % 5000),
                  },
                },
              )
            : await op(
                step,
                { tag: `order=${orderId}`, orderId, life: life.n },
                {
                  method: 'POST',
                  path: `/orders/${orderId}/${step}`,
                  body: step === 'pickup' ? { rider: `r-${life.n % 50}` } : {},
                },
              );
        if (step === 'create') orderId = a.orderId;
        if (a.result !== 'ok' || !orderId) break; // a life stops at its first refused or unknown step
        if (life.readAfter[k]) {
          const z = life.readZone[k];
          if (z < 0)
            await op(
              'read',
              { tag: `order=${orderId}`, orderId, life: life.n },
              { method: 'GET', path: `/orders/${orderId}` },
            );
          else
            await op(
              'read-local',
              { tag: `order=${orderId}`, orderId, zone: zones[z], life: life.n },
              { method: 'GET', path: `/orders/${orderId}`, base: localUrl[z] },
            );
        }
      }
      if (life.register) {
        // unique per run (a phone registers once, ever): the same operation, a fresh number
        const phone = `+86${runTag}${String(life.n).padStart(7, '0')}`;
        const a = await op(
          'register',
          { tag: life.tag, phone, life: life.n },
          { method: 'POST', path: '/users', body: { phone, name: `user ${life.n}` } },
        );
        const id = a.body?.user?.id;
        if (a.result === 'ok' && id !== undefined)
          await op(
            'read-user',
            { tag: life.tag, user: String(id), ryw: true, life: life.n },
            { method: 'GET', path: `/users/${id}` },
          );
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: o.concurrency }, worker));
  } finally {
    await agent.close();
  }
  totals.processes = nextProcess;
  return totals;
}
