/** Drill files: what a valid one becomes, the errors a bad one gets; the generator's lives per seed. */
import { describe, expect, it } from 'vitest';
import { drawLives } from '../../harness/drill/clients.js';
import { parseDrill } from '../../harness/drill/spec.js';
import { loadTopology } from '../../src/topology/index.js';

const ok = `
name: partition-heal
seed: 7
duration: 20s
workload: { rate: 10, concurrency: 4 }
schedule:
  - at: 5s
    for: 8s
    nemesis: partition
    between: [ez-bj, ez-sh]
    mode: refuse
`;

describe('drill files', () => {
  it('parse durations, defaults and the schedule; resolve the topology beside the file', () => {
    const d = parseDrill(`${ok}topology: ../topologies/three-zones.yaml\n`, '/x/fixtures/drills/p.yaml');
    expect(d).toMatchObject({ name: 'partition-heal', seed: 7, duration: 20_000, drain: 60_000 });
    expect(d.workload).toMatchObject({ rate: 10, concurrency: 4, cancelRate: 0.1, timeout: 5000 });
    expect(d.schedule[0]).toMatchObject({ at: 5000, for: 8000, nemesis: 'partition', mode: 'refuse' });
    expect(d.topologyFile).toBe('/x/fixtures/topologies/three-zones.yaml');
  });

  it('refuse bad files naming the file, the field and what is expected', () => {
    const bad = (text: string) => {
      try {
        parseDrill(text, 'd.yaml');
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error('expected an error');
    };
    expect(bad('name: x\nduration: soon\n')).toMatch(/^d\.yaml: duration: .*soon/);
    expect(bad('name: X Y\nduration: 10s\n')).toMatch(/name: expected a drill name/);
    expect(bad('name: x\nduration: 10s\nbogus: 1\n')).toMatch(/bogus/);
    expect(bad('name: x\nduration: 10s\nschedule: [{at: 20s, nemesis: kill-gzs}]\n')).toMatch(
      /schedule\[0\]\.at: 20000 ms is not within the drill's duration/,
    );
    expect(bad('name: x\nduration: 10s\nschedule: [{at: 1s}]\n')).toMatch(
      /nemesis: expected nemesis: one of latency/,
    );
    expect(
      bad('name: x\nduration: 10s\nschedule: [{at: 1s, nemesis: partition, between: [ez-bj]}]\n'),
    ).toMatch(/^d\.yaml: schedule\[0\] \(partition\): between/);
    expect(bad('name: x\n  duration: [\n')).toMatch(/^d\.yaml:\d+:\d+ YAML syntax/);
  });
});

describe('drill generator', () => {
  const topology = loadTopology();
  const o = { cancelRate: 0.1, reads: 0.2, registrations: 0.05 };
  it('draws the same lives for the same seed, other lives for another', () => {
    const a = drawLives(topology, 42, 300, o);
    expect(drawLives(topology, 42, 300, o)).toEqual(a);
    expect(drawLives(topology, 43, 300, o)).not.toEqual(a);
    expect(new Set(a.map((l) => l.tag)).size).toBeGreaterThan(250); // points all over the map
    expect(a.some((l) => l.steps.includes('cancel'))).toBe(true);
    expect(a.some((l) => l.register)).toBe(true);
  });
});
