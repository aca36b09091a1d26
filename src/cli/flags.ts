// Flags and parsers shared by ezctl commands (state dir, durations).
import { Flags } from '@oclif/core';

/** Where `up`/`status`/`down` keep `<cluster>/state.json` and the data directories. */
export const stateDirFlag = Flags.string({
  description: 'state directory (holds <cluster>/state.json and the data dirs) [default: ./.ezctl]',
  env: 'EZCTL_HOME',
  helpGroup: 'GLOBAL',
});

/** Flags shared by the commands that act on a running cluster. */
export const clusterFlags = { 'state-dir': stateDirFlag };

/**
 * Durations of CLI flags: the shared parser (src/util/parse.ts: a bare number is milliseconds),
 * bounded so a timer never overflows (node's timers take at most ~24.8 days).
 */
export { parseDuration } from '../util/parse.js';

/** `--interval` of a `--watch`: 100 ms to 1 h. */
export const WATCH_INTERVAL = { min: 100, max: 3_600_000 };
