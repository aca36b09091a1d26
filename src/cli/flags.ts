import { Flags } from '@oclif/core';
import { UsageError } from '../util/errors.js';

/** Where `up`/`status`/`down` keep `<cluster>/state.json` and the data directories. */
export const stateDirFlag = Flags.string({
  description: 'state directory (holds <cluster>/state.json and the data dirs) [default: ./.ezctl]',
  env: 'EZCTL_HOME',
  helpGroup: 'GLOBAL',
});

/** Flags shared by the commands that act on a running cluster. */
export const clusterFlags = { 'state-dir': stateDirFlag };

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** `250ms`, `1s`, `1.5s`, `2m`; a bare number is seconds. Returns milliseconds. */
export function parseDuration(text: string, what = 'duration'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(text);
  if (!m) throw new UsageError(`${what}: "${text}" is not a duration (expected e.g. 500ms, 1s, 2m)`);
  const ms = Number(m[1]) * UNITS[m[2] ?? 's'];
  if (ms <= 0) throw new UsageError(`${what}: must be more than 0, got "${text}"`);
  return Math.round(ms);
}
