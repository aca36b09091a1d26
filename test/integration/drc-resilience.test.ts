/**
 * DRC through the built-in link server (30 ms RTT): link cuts (refuse, stall) and MariaDB restarts
 * on either side while both eZones write; each time the replicators reconnect with backoff, catch
 * up, and the eZones end identical.
 */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinkSet } from '../../src/links/link-set.js';
import { LinkServer } from '../../src/links/server.js';
import { type DrcLab, type ProcHandle, retryDeadlock, startDrcLab } from '../helpers/drc.js';

describe('DRC resilience through links', () => {
  let lab: DrcLab;
  let server: LinkServer;
  let links: LinkSet;
  let toSh: ProcHandle;
  let toBj: ProcHandle;
  let nextId = 1;
  /** inserts the database acknowledged (a write cut by a restart may or may not have committed) */
  const acked: number[] = [];
  const pairs: [string, string][] = [
    ['ez-bj', 'ez-sh'],
    ['ez-sh', 'ez-bj'],
  ];

  beforeAll(async () => {
    lab = await startDrcLab({ zones: 2 });
    server = new LinkServer({ port: 0, seed: 1, log: pino({ level: 'warn' }) });
    const { url } = await server.listen();
    links = await LinkSet.create({
      toxiproxy: url,
      topology: lab.topology,
      basePort: 0,
      addresses: Object.fromEntries(lab.zones.map((z) => [z.id, { mysql: `127.0.0.1:${z.db.port}` }])),
    });
    await links.fault('ez-bj', 'ez-sh', 'slow 30ms');
    toSh = await lab.startReplicator('ez-bj', 'ez-sh', [
      '--source',
      links.address('ez-sh', 'ez-bj', 'mysql'),
    ]);
    toBj = await lab.startReplicator('ez-sh', 'ez-bj', [
      '--source',
      links.address('ez-bj', 'ez-sh', 'mysql'),
    ]);
  });

  afterAll(async () => {
    await lab?.close();
    await server?.close();
  });

  /** Both eZones write (each its own shard's orders plus updates of older ones) while `during` runs. */
  async function underLoad(during: () => Promise<void>): Promise<number> {
    let stop = false;
    let n = 0;
    const writer = async (zone: string, shard: number) => {
      let c = await lab.app(zone);
      while (!stop) {
        try {
          await retryDeadlock(async () => {
            const id = nextId++;
            await c.query(
              `INSERT INTO orders (id, shard_id, user_id, merchant_id, state, amount_cents, created_at, updated_at)
               VALUES (?, ?, 'u', 'm', 'placed', 1, NOW(6), NOW(6))`,
              [id, shard],
            );
            acked.push(id);
            await c.query(
              "UPDATE orders SET version = version + 1, state = 'moved', updated_at = NOW(6) WHERE id = ?",
              [Math.max(1, id - 7)],
            );
          });
          n++;
        } catch {
          // its own eZone's MariaDB is restarting: wait and reconnect, like an application would
          await new Promise((r) => setTimeout(r, 200));
          c = await lab.app(zone).catch(() => c);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const writers = [writer('ez-bj', 0), writer('ez-sh', 1)];
    try {
      await new Promise((r) => setTimeout(r, 500));
      await during();
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      stop = true;
      await Promise.all(writers);
    }
    return n;
  }

  async function converged(): Promise<void> {
    await lab.drain(pairs, 90_000);
    const a = await lab.digest('ez-bj', 'orders');
    const b = await lab.digest('ez-sh', 'orders');
    if (a.sha !== b.sha) expect(b.text).toBe(a.text);
    expect(a.sha).toBe(b.sha);
    // no acknowledged order is missing in either eZone
    const ids = new Set(a.text.split('\n').map((l) => Number(JSON.parse(l).id)));
    expect(acked.filter((id) => !ids.has(id))).toEqual([]);
  }

  it('replicates through 30 ms links, with the link latency in the lag', async () => {
    const n = await underLoad(() => new Promise((r) => setTimeout(r, 1500)));
    expect(n).toBeGreaterThan(50);
    await converged();
    const h = await toSh.health();
    expect(h.sourceAddress).not.toContain(String(lab.zone('ez-bj').db.port)); // through the link
    expect(h.state).toBe('running');
    expect(h.lag.p50Ms).toBeGreaterThan(15); // half the RTT at least
    expect(h.lag.p50Ms).toBeLessThan(500);
  });

  it('a refused link: reconnects with backoff (logged), catches up, converges', async () => {
    let during: Record<string, any> | null = null;
    await underLoad(async () => {
      await links.fault('ez-bj', 'ez-sh', 'partition refuse');
      await new Promise((r) => setTimeout(r, 3000));
      during = await toSh.health();
      await links.heal('ez-bj', 'ez-sh');
      await links.fault('ez-bj', 'ez-sh', 'slow 30ms');
    });
    expect(during!.state).toBe('reconnecting');
    expect(during!.lag.nowMs).toBeGreaterThan(1500);
    await converged();
    const log = readFileSync(toSh.logFile, 'utf8');
    expect(log).toMatch(/"attempt":2,.*reconnecting after backoff/);
    expect(log).toMatch(/heartbeat: write to the source failed/);
  });

  it('a stalled link (bytes wait, connections stay): detects the stall, catches up, converges', async () => {
    await underLoad(async () => {
      await links.fault('ez-bj', 'ez-sh', 'partition stall');
      await new Promise((r) => setTimeout(r, 6500));
      await links.heal('ez-bj', 'ez-sh');
      await links.fault('ez-bj', 'ez-sh', 'slow 30ms');
    });
    await converged();
    expect(readFileSync(toSh.logFile, 'utf8')).toMatch(/no binlog event from ez-bj for 5 s/);
  });

  it('the source MariaDB restarts: reconnects and converges', async () => {
    await underLoad(async () => {
      await lab.zone('ez-bj').db.restart();
    });
    await converged();
    expect((await toSh.health()).errors).toBeGreaterThan(0);
  });

  it('the target MariaDB is killed and restarted: nothing applied is lost, converges', async () => {
    await underLoad(async () => {
      await lab.zone('ez-sh').db.kill();
      await new Promise((r) => setTimeout(r, 500));
      await lab.zone('ez-sh').db.restart();
    });
    await converged();
    expect(await toSh.alive()).toBe(true);
    expect(await toBj.alive()).toBe(true);
  });
});
