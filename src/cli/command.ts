// The base of every ezctl command: --json, --topology, the cluster's secrets, one error path, exit codes.
import { Command, Flags } from '@oclif/core';
import { errorMessage } from '../util/errors.js';
import { applyCommandSecrets } from './cluster-secrets.js';

/**
 * Base of every ezctl command: a `--json` flag (oclif's enableJsonFlag), the shared `--topology`
 * flag, the secrets of the cluster it acts on (`<state>/<cluster>/secrets.json`, put into the
 * environment before it runs where not exported already: cluster-secrets.ts), and one error path.
 * Errors print one line (no stack) or `{"error":{code,message}}` with --json; the exit code is 2
 * for bad input and 1 for a failure found at run time.
 */
export abstract class EzCommand extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    topology: Flags.string({
      char: 't',
      description: 'topology file (YAML); default: the embedded two-zones topology',
      env: 'EZCTL_TOPOLOGY',
      helpGroup: 'GLOBAL',
    }),
  };

  /** Before the command runs: its cluster's secrets, if it has any (never fails the command). */
  protected override async init(): Promise<void> {
    await super.init();
    await applyCommandSecrets(this.argv);
  }

  protected override async catch(
    err: Error & { code?: string; exitCode?: number; oclif?: { exit?: number } },
  ) {
    const exit = err.exitCode ?? err.oclif?.exit ?? 1;
    const code = typeof err.code === 'string' ? err.code : exit === 2 ? 'EZ_USAGE' : 'EZ_FAILED';
    const message = errorMessage(err).replace(/\nSee more help with --help$/, '');
    if (this.jsonEnabled()) {
      process.stdout.write(`${JSON.stringify({ error: { code, message } }, null, 2)}\n`);
    } else {
      process.stderr.write(`ezctl: ${message}${exit === 2 && err.oclif ? ' (see --help)' : ''}\n`);
      if (process.env.EZCTL_DEBUG && err.stack) process.stderr.write(`${err.stack}\n`);
    }
    process.exitCode = exit;
  }
}

/** A foreground command (`gzs serve`, `links serve`): resolves with the signal that asked it to stop. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(signal);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}
