/**
 * The CI resilience suite (`npm run drills:ci`): the drill files of fixtures/drills run for real on
 * clusters from `ezctl up` with 30 ms links — every DESIGN §7 invariant must hold, and each drill
 * prints its key figures. Two runs of one drill with the same seed must record the same client
 * operations. One cluster per topology, reused by its drills (as `ezctl drill run` reuses one).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drawLives } from '../../harness/drill/clients.js';
import { formatResults } from '../../harness/drill/format.js';
import { type DrillRun, runDrill } from '../../harness/drill/run.js';
import { loadDrill } from '../../harness/drill/spec.js';
import { type ClientEvent, isClient, readHistory } from '../../harness/history/index.js';
import { fixturesDir } from '../../src/util/paths.js';
import { ensureBuilt } from '../helpers/drc.js';
import { tempDir } from '../helpers/run-dir.js';
import { startZoneCluster, type ZoneCluster } from '../helpers/zone-cluster.js';

const drillFile = (name: string) => join(fixturesDir(), 'drills', `${name}.yaml`);
const runsDir = tempDir('runs');

async function drill(
  cluster: ZoneCluster,
  name: string,
  o: { seed?: number; durationMs?: number } = {},
): Promise<DrillRun> {
  const r = await runDrill({
    drill: loadDrill(drillFile(name)),
    topology: cluster.topology,
    stateDir: cluster.stateDir,
    runsDir,
    ...o,
  });
  console.log(formatResults(r.results, r.runDir));
  return r;
}

const ONLY = process.env.EZ_DRILLS?.split(',');
const wanted = (name: string) => !ONLY || ONLY.includes(name);

describe('CI drills on two eZones', () => {
  let cluster: ZoneCluster;
  beforeAll(async () => {
    await ensureBuilt();
    cluster = await startZoneCluster(join(fixturesDir(), 'topologies', 'two-zones.yaml'));
  }, 180_000);
  afterAll(async () => {
    await cluster?.down({ purge: true });
  });

  for (const name of ['steady', 'partition-heal', 'drc-crash', 'gzs-outage', 'moves', 'zone-kill-failover'])
    it.runIf(wanted(name))(
      `${name}: every invariant holds`,
      async () => {
        const r = await drill(cluster, name);
        expect(r.results.valid, formatResults(r.results, r.runDir)).toBe(true);
        expect(r.exitCode).toBe(0);
      },
      240_000,
    );

  it.runIf(wanted('same-seed'))(
    'records the same client operations for the same seed (up to timing)',
    async () => {
      const runs = [
        await drill(cluster, 'steady', { seed: 11, durationMs: 6000 }),
        await drill(cluster, 'steady', { seed: 11, durationMs: 6000 }),
      ];
      // per order life, the operations asked (what, and the tag of a new order), in the order asked
      const asked = (r: DrillRun) => {
        const events = readHistory(join(r.runDir, 'history.jsonl')).filter(
          (e): e is ClientEvent => isClient(e) && e.type === 'invoke',
        );
        const byLife = new Map<number, string[]>();
        for (const e of events) {
          const life = Number(e.value.life);
          const what = e.f === 'create' || e.f === 'register' ? `${e.f} ${e.value.tag}` : e.f;
          byLife.set(life, [...(byLife.get(life) ?? []), what]);
        }
        return [...byLife.entries()].sort(([x], [y]) => x - y);
      };
      const [a, b] = runs.map(asked);
      expect(a.length).toBeGreaterThan(30);
      // the lives both runs started are the same lives with the same operations
      const common = Math.min(a.length, b.length);
      expect(Math.max(a.length, b.length) - common).toBeLessThanOrEqual(2);
      expect(b.slice(0, common)).toEqual(a.slice(0, common));
      // and they are what the seed draws
      const lives = drawLives(cluster.topology, 11, common, {
        cancelRate: 0.1,
        reads: 0.2,
        registrations: 0.05,
      });
      expect(a.slice(0, common).map(([, ops]) => ops[0])).toEqual(lives.map((l) => `create ${l.tag}`));
    },
    120_000,
  );
});

describe.runIf(wanted('three-zones-partition'))('CI drills on three eZones', () => {
  let cluster: ZoneCluster;
  beforeAll(async () => {
    await ensureBuilt();
    cluster = await startZoneCluster(join(fixturesDir(), 'topologies', 'three-zones.yaml'));
  }, 180_000);
  afterAll(async () => {
    await cluster?.down({ purge: true });
  });

  it('three-zones-partition: every invariant holds', async () => {
    const r = await drill(cluster, 'three-zones-partition');
    expect(r.results.valid, formatResults(r.results, r.runDir)).toBe(true);
  }, 240_000);
});
