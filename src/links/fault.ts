// The faults a link set applies: slow, partition (stall, refuse, blackhole), heal.
import { UsageError } from '../util/errors.js';
import { parseDuration } from '../util/parse.js';

/**
 * Faults a link set applies between eZones:
 * - `slow 30ms`: symmetric latency, half each way (so `slow 30ms` is a 30 ms round trip), connection
 *   set-up included;
 * - `partition stall`: nothing crosses, bytes wait, healing resumes the same connections;
 * - `partition refuse`: connections are closed and new ones refused (the link is disabled);
 * - `partition blackhole`: bytes are dropped, connections stay open (and close when healed);
 * - `heal`: removes the faults.
 */
export type Fault =
  | { kind: 'slow'; ms: number }
  | { kind: 'partition'; mode: 'stall' | 'refuse' | 'blackhole' }
  | { kind: 'heal' };

export const FAULT_GRAMMAR = '"slow <ms>ms", "partition stall|refuse|blackhole" or "heal"';
const MAX_SLOW_MS = 60_000;

/** Parse a fault from words (`["slow", "30ms"]`) or one string (`"slow 30ms"`). */
export function parseFault(input: string | readonly string[]): Fault {
  const words = (typeof input === 'string' ? [input] : input)
    .flatMap((w) => w.trim().split(/\s+/))
    .filter(Boolean);
  const [verb, ...rest] = words.map((w) => w.toLowerCase());
  const text = words.join(' ');
  const bad = (why: string): never => {
    throw new UsageError(`bad fault "${text}": ${why}; expected ${FAULT_GRAMMAR}`);
  };
  switch (verb) {
    case 'slow': {
      if (rest.length === 0) bad('missing the round-trip time');
      const ms = parseDuration(rest.join(''), `fault "${text}": round-trip time`, {
        min: 1,
        max: MAX_SLOW_MS,
      });
      return { kind: 'slow', ms };
    }
    case 'partition': {
      const mode = rest.length === 0 ? 'stall' : rest[0];
      if (rest.length > 1 || (mode !== 'stall' && mode !== 'refuse' && mode !== 'blackhole'))
        bad('the partition kind must be stall, refuse or blackhole');
      return { kind: 'partition', mode: mode as 'stall' | 'refuse' | 'blackhole' };
    }
    case 'heal':
      if (rest.length) bad('heal takes no argument');
      return { kind: 'heal' };
    default:
      return bad(verb ? `unknown fault "${verb}"` : 'empty');
  }
}

export function describeFault(f: Fault): string {
  return f.kind === 'slow' ? `slow ${f.ms}ms` : f.kind === 'partition' ? `partition ${f.mode}` : 'heal';
}
