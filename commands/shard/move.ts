// `ezctl shard move`: a planned move of shards to another eZone (DESIGN §6), journaled in GZS.
import { Flags } from '@oclif/core';
import { EzCommand } from '../../src/cli/command.js';
import { parseDuration } from '../../src/cli/flags.js';
import { changeFlags } from '../../src/gzs/flags.js';
import type { MoveReport, ResumeReport } from '../../src/switch/index.js';

export default class ShardMove extends EzCommand {
  static override summary =
    'Move shards to another eZone: lock, wait for every holder, catch up DRC, switch the owner';
  static override description =
    `DESIGN §6's four steps, each journaled in GZS before it takes effect: lock the
shard(s) (epoch e+1) and wait until every live holder acknowledged it — the DALs only once their
open transactions on the shard ended; note the old owner's binlog position; wait until DRC old →
new owner applied it; set the new owner, serving (e+2), the point of no return. Before it, any
failure or --timeout rolls back by itself (the shard stays where it was, unlocked) and says why.
Progress goes to stderr; the result (with --json, a JSON object) to stdout.

Refused before it starts (exit 2) when DRC old → new is not running or lags over --max-lag.
A driver that dies mid-move leaves a journal entry whose lease runs out: GZS rolls it back (or
closes it past the point of no return) by itself; --resume does it now.

Exit codes: 0 switched (or --dry-run, --resume done); 1 rolled back or outcome unknown; 2 bad input or refused.`;
  static override examples = [
    '<%= config.bin %> shard move --shard 17 --to ez-sh',
    '<%= config.bin %> shard move --shard 3,4 --to ez-bj --timeout 10s --json',
    '<%= config.bin %> shard move --zone ez-sh --to ez-bj     # evacuate ez-sh, planned',
    '<%= config.bin %> shard move --shard 17 --to ez-sh --dry-run',
    '<%= config.bin %> shard move --resume',
  ];
  static override flags = {
    ...changeFlags,
    shard: Flags.string({
      description: 'shard id(s) to move, comma-separated',
      exclusive: ['zone', 'resume'],
    }),
    zone: Flags.string({
      description: 'move every shard this eZone owns (a planned evacuation)',
      exclusive: ['shard', 'resume'],
    }),
    to: Flags.string({ description: 'the eZone that takes the shard(s)' }),
    timeout: Flags.string({ description: 'lock → caught up, at most; then it rolls back', default: '5s' }),
    'max-lag': Flags.string({
      description: 'refuse when DRC old → new lags more than this now',
      default: '1s',
    }),
    lease: Flags.string({
      description: "the journal entry's lease: GZS rolls back a move whose driver is silent this long",
      default: '3s',
    }),
    'dry-run': Flags.boolean({
      description: 'print the plan, the DRC lag and the expected write-block window; change nothing',
    }),
    resume: Flags.boolean({
      description: 'end the open switches whose driver is gone: roll back before the switch, close after it',
    }),
  };

  async run(): Promise<MoveReport | ResumeReport> {
    const { flags } = await this.parse(ShardMove);
    const sw = await import('../../src/switch/index.js');
    const cli = await import('../../src/switch/cli.js');
    const ctx = cli.switchContext(flags);
    const onProgress = cli.progressLine;
    if (flags.resume) {
      const r = await sw.resumeSwitches({ ...ctx, onProgress });
      this.log(cli.formatResume(r));
      process.exitCode = r.entries.every(
        (e) => e.now === 'done' || e.now === 'rolled-back' || e.now === 'gone',
      )
        ? 0
        : 1;
      return r;
    }
    const { UsageError } = await import('../../src/util/errors.js');
    if (!flags.to) throw new UsageError('--to: required (the eZone that takes the shards)');
    let shards: number[];
    if (flags.zone) {
      const { table } = await ctx.gzs.table();
      shards = Object.entries(table.shards)
        .filter(([, s]) => s.zone === flags.zone)
        .map(([id]) => Number(id));
      if (!ctx.topology.zones.some((z) => z.id === flags.zone))
        throw new UsageError(`--zone ${flags.zone}: unknown eZone`);
    } else if (flags.shard) shards = cli.shardList(flags.shard);
    else throw new UsageError('give --shard S[,S…], --zone Z or --resume');
    const r = await sw.runMove({
      ...ctx,
      shards,
      to: flags.to,
      timeoutMs: parseDuration(flags.timeout, '--timeout', { min: 100, max: 600_000 }),
      maxLagMs: parseDuration(flags['max-lag'], '--max-lag', { min: 0, max: 3_600_000 }),
      leaseMs: parseDuration(flags.lease, '--lease', { min: 500, max: 600_000 }),
      dryRun: flags['dry-run'],
      onProgress,
    });
    this.log(cli.formatMove(r));
    process.exitCode = r.outcome === 'switched' || r.outcome === 'planned' ? 0 : 1;
    return r;
  }
}
