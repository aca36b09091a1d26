// `ezctl failback`: planned moves of an eZone's original shards back to it, once it is healthy and drained.
import { Flags } from '@oclif/core';
import { EzCommand } from '../src/cli/command.js';
import { parseDuration } from '../src/cli/flags.js';
import { changeFlags } from '../src/gzs/flags.js';
import type { FailbackReport } from '../src/switch/index.js';

export default class Failback extends EzCommand {
  static override summary =
    "Move an eZone's original shards back to it (planned moves), once it is healthy and drained";
  static override description =
    `Refused (exit 1) until the eZone answers APIRouter and GZS hears its holders again, and
until the failover's order locks are gone (its tail applied at the other eZone); marks it active
again, then runs one planned move per current owner (each checks DRC back to it has caught up).

Exit codes: 0 failed back (or nothing to do); 1 refused, rolled back or partial; 2 bad input.`;
  static override examples = [
    '<%= config.bin %> failback --zone ez-sh',
    '<%= config.bin %> failback --zone ez-sh --json',
  ];
  static override flags = {
    ...changeFlags,
    zone: Flags.string({ description: 'the eZone whose shards come back', required: true }),
    timeout: Flags.string({ description: 'per move: lock → caught up, at most', default: '5s' }),
    'max-lag': Flags.string({ description: 'refuse when DRC to it lags more than this', default: '1s' }),
  };

  async run(): Promise<FailbackReport> {
    const { flags } = await this.parse(Failback);
    const sw = await import('../src/switch/index.js');
    const cli = await import('../src/switch/cli.js');
    const ctx = cli.switchContext(flags);
    const r = await sw.runFailback({
      ...ctx,
      zone: flags.zone,
      timeoutMs: parseDuration(flags.timeout, '--timeout', { min: 100, max: 600_000 }),
      maxLagMs: parseDuration(flags['max-lag'], '--max-lag', { min: 0, max: 3_600_000 }),
      onProgress: cli.progressLine,
    });
    this.log(cli.formatFailback(r));
    process.exitCode = r.outcome === 'failed-back' || r.outcome === 'nothing-to-do' ? 0 : 1;
    return r;
  }
}
