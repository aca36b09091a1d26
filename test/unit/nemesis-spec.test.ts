/**
 * nemesisFromSpec: a drill file's schedule entry → a nemesis, or a usage error naming the field
 * and what is expected; and runNemesis records invoke → ok/fail/info without ever throwing.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HistoryWriter, pairOperations } from '../../harness/history/index.js';
import {
  type Nemesis,
  type NemesisContext,
  NemesisNotDone,
  nemesisFromSpec,
  runNemesis,
} from '../../harness/nemesis/index.js';
import { loadTopology } from '../../src/topology/index.js';
import { fixturesDir } from '../../src/util/paths.js';

const topology = loadTopology(join(fixturesDir(), 'topologies', 'two-zones.yaml'));

const errorOf = (spec: unknown, opts = {}): string => {
  try {
    nemesisFromSpec(spec, opts);
  } catch (err) {
    expect((err as { code?: string }).code).toBe('EZ_USAGE');
    return (err as Error).message;
  }
  throw new Error(`no error for ${JSON.stringify(spec)}`);
};

describe('nemesisFromSpec', () => {
  it('builds every nemesis from its schedule entry (schedule keys ignored, durations parsed)', () => {
    const cases: [Record<string, unknown>, string, Record<string, unknown>, boolean][] = [
      [
        {
          at: '5s',
          for: '10s',
          nemesis: 'latency',
          between: ['ez-bj', 'ez-sh'],
          latency: '200ms',
          jitter: 50,
        },
        'latency',
        { between: ['ez-bj', 'ez-sh'], latencyMs: 200, jitterMs: 50 },
        true,
      ],
      [
        { nemesis: 'latency', zone: 'ez-sh', latency: '1s' },
        'latency',
        { zone: 'ez-sh', latencyMs: 1000, jitterMs: 0 },
        true,
      ],
      [
        { nemesis: 'partition', between: ['ez-bj', 'ez-sh'] },
        'partition',
        { between: ['ez-bj', 'ez-sh'], mode: 'stall' },
        true,
      ],
      [
        { nemesis: 'isolate', zone: 'ez-sh', mode: 'refuse' },
        'isolate',
        { zone: 'ez-sh', mode: 'refuse' },
        true,
      ],
      [{ nemesis: 'kill-zone', zone: 'ez-sh' }, 'kill-zone', { zone: 'ez-sh' }, true],
      [
        { nemesis: 'kill-drc', from: 'ez-bj', to: 'ez-sh' },
        'kill-drc',
        { from: 'ez-bj', to: 'ez-sh', process: 'drc@ez-sh<-ez-bj' },
        true,
      ],
      [{ nemesis: 'kill-gzs' }, 'kill-gzs', {}, true],
      [{ nemesis: 'kill-dal', zone: 'ez-bj' }, 'kill-dal', { zone: 'ez-bj' }, true],
      [
        { nemesis: 'clock', zone: 'ez-sh', offset: '-30s' },
        'clock',
        { zone: 'ez-sh', offsetMs: -30_000, process: 'orders@ez-sh' },
        true,
      ],
      [
        { at: 1000, nemesis: 'move', shards: [3], to: 'ez-bj', timeout: '5s' },
        'move',
        { shards: [3], to: 'ez-bj', timeoutMs: 5000 },
        false,
      ],
      [
        { nemesis: 'failover', from: 'ez-sh', to: 'ez-bj', whenDown: '30s', downAfter: '1s' },
        'failover',
        { from: 'ez-sh', to: 'ez-bj', whenDownMs: 30_000, downAfterMs: 1000 },
        false,
      ],
      [{ nemesis: 'failback', zone: 'ez-sh' }, 'failback', { zone: 'ez-sh' }, false],
    ];
    for (const [spec, name, value, hasStop] of cases) {
      const n = nemesisFromSpec(spec, { topology });
      expect(n.name).toBe(name);
      expect(JSON.parse(JSON.stringify(n.value))).toEqual(value);
      expect(typeof n.stop === 'function', name).toBe(hasStop);
      expect(n.describe()).toMatch(/\S/);
    }
  });

  it('names the field and what is expected', () => {
    const at = { where: 'drill.yaml: schedule[2]' };
    expect(errorOf('partition', at)).toBe(
      'drill.yaml: schedule[2]: expected a mapping with a nemesis (e.g. { nemesis: partition, between: [A, B] }), got "partition"',
    );
    expect(errorOf({ between: ['a', 'b'] })).toMatch(
      /^schedule entry: nemesis: required \(expected one of latency, partition, isolate, kill-zone, kill-drc, kill-gzs, kill-dal, clock, move, failover, failback\)$/,
    );
    expect(errorOf({ nemesis: 'partiton' })).toMatch(
      /^schedule entry: nemesis: unknown nemesis "partiton" \(expected one of latency, /,
    );
    expect(errorOf({ nemesis: 'partition', between: ['ez-bj', 'ez-sh'], mode: 'drop' }, at)).toBe(
      'drill.yaml: schedule[2] (partition): mode: expected one of "stall", "refuse", "blackhole"',
    );
    expect(errorOf({ nemesis: 'partition' })).toMatch(/^schedule entry \(partition\): between: required/);
    expect(errorOf({ nemesis: 'partition', between: ['ez-bj'] })).toMatch(
      /^schedule entry \(partition\): between: expected two eZone ids, e\.g\. \[ez-bj, ez-sh\]$/,
    );
    expect(errorOf({ nemesis: 'partition', between: ['ez-bj', 'ez-bj'] })).toBe(
      'schedule entry (partition): between: expected two different eZones',
    );
    expect(errorOf({ nemesis: 'isolate', zone: 'ez-sh', mdoe: 'stall' })).toBe(
      'schedule entry (isolate): (top level): unknown key "mdoe"',
    );
    expect(errorOf({ nemesis: 'latency', between: ['ez-bj', 'ez-sh'], latency: 'fast' })).toMatch(
      /^schedule entry \(latency\): latency: "fast" is not a duration \(expected e\.g\. 500ms/,
    );
    expect(errorOf({ nemesis: 'latency', between: ['ez-bj', 'ez-sh'], latency: '2m' })).toMatch(
      /^schedule entry \(latency\): latency: "2m" is out of range \(expected 1 ms to 1 min\)/,
    );
    expect(errorOf({ nemesis: 'latency', latency: '20ms' })).toBe(
      'schedule entry (latency): between: expected exactly one of between: [A, B] (an eZone pair) or zone: A (every link of A)',
    );
    expect(errorOf({ nemesis: 'latency', between: ['ez-bj', 'ez-sh'] })).toMatch(
      /^schedule entry \(latency\): latency: required/,
    );
    expect(errorOf({ nemesis: 'kill-drc', from: 'ez-sh', to: 'ez-sh' })).toBe(
      'schedule entry (kill-drc): to: expected two different eZones',
    );
    expect(errorOf({ nemesis: 'kill-gzs', zone: 'ez-bj' })).toBe(
      'schedule entry (kill-gzs): (top level): unknown key "zone"',
    );
    expect(errorOf({ nemesis: 'move', shards: [], to: 'ez-bj' })).toBe(
      'schedule entry (move): shards: expected at least one shard',
    );
    expect(errorOf({ nemesis: 'move', shards: [1.5], to: 'ez-bj' })).toBe(
      'schedule entry (move): shards[0]: expected a whole shard number',
    );
    expect(errorOf({ nemesis: 'move', shards: 3, to: 'ez-bj' })).toBe(
      'schedule entry (move): shards: expected a list of shard numbers, e.g. [3, 7]',
    );
    expect(errorOf({ nemesis: 'move', for: '10s', shards: [3], to: 'ez-bj' })).toBe(
      'schedule entry (move): for: move is a one-shot action (no stop): remove "for"',
    );
    expect(errorOf({ nemesis: 'failover', from: 'ez-sh', to: 'ez-bj', force: 'yes' })).toBe(
      'schedule entry (failover): force: expected true or false',
    );
    expect(errorOf({ nemesis: 'clock', zone: 'ez-sh', offset: 'soon' })).toMatch(
      /^schedule entry \(clock\): offset: "soon" is not a duration/,
    );
    // against the topology: eZone ids and shards
    expect(errorOf({ nemesis: 'kill-zone', zone: 'ez-gz' }, { topology })).toBe(
      'schedule entry (kill-zone): zone: unknown eZone "ez-gz" (expected one of ez-bj, ez-sh)',
    );
    expect(errorOf({ nemesis: 'partition', between: ['ez-bj', 'ez-xx'] }, { topology })).toBe(
      'schedule entry (partition): between[1]: unknown eZone "ez-xx" (expected one of ez-bj, ez-sh)',
    );
    expect(errorOf({ nemesis: 'move', shards: [99999], to: 'ez-bj' }, { topology })).toMatch(
      /^schedule entry \(move\): shards\[0\]: no shard 99999 in topology /,
    );
  });
});

describe('runNemesis', () => {
  const ctx = (history: HistoryWriter) => ({ history }) as unknown as NemesisContext;
  const fake = (start: () => Promise<Record<string, unknown>>, stop = true): Nemesis => ({
    name: 'fake',
    value: { zone: 'ez-sh' },
    describe: () => 'fake',
    start,
    ...(stop ? { stop: async () => ({ stopped: true }) } : {}),
  });

  it('records invoke then ok / fail / info, and never throws', async () => {
    const h = new HistoryWriter(null);
    const ok = await runNemesis(
      fake(async () => ({ did: 1 })),
      'start',
      ctx(h),
    );
    expect(ok).toMatchObject({ type: 'ok', f: 'start', nemesis: 'fake', result: { did: 1 } });
    await runNemesis(
      fake(async () => ({})),
      'stop',
      ctx(h),
    );
    const info = await runNemesis(
      fake(async () => {
        throw new Error('halfway');
      }),
      'start',
      ctx(h),
    );
    expect(info).toMatchObject({ type: 'info', error: 'halfway' });
    const fail = await runNemesis(
      fake(async () => {
        throw new NemesisNotDone('refused', { outcome: 'refused' });
      }, false),
      'start',
      ctx(h),
    );
    expect(fail).toMatchObject({ type: 'fail', f: 'action', result: { outcome: 'refused' } });
    const noStop = await runNemesis(
      fake(async () => ({}), false),
      'stop',
      ctx(h),
    );
    expect(noStop).toMatchObject({
      type: 'fail',
      f: 'action',
      error: 'fake is a one-shot action: there is nothing to stop',
    });
    const hung = await runNemesis(
      fake(() => new Promise(() => {})),
      'start',
      ctx(h),
      { timeoutMs: 50 },
    );
    expect(hung).toMatchObject({ type: 'info', error: expect.stringMatching(/no answer within 50 ms/) });
    expect(h.events.map((e) => e.type)).toEqual([
      'invoke',
      'ok',
      'invoke',
      'ok',
      'invoke',
      'info',
      'invoke',
      'fail',
      'invoke',
      'fail',
      'invoke',
      'info',
    ]);
    expect(pairOperations(h.events).every((op) => op.complete !== null)).toBe(true);
  });
});
