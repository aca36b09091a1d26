#!/usr/bin/env node
import { GzsApi } from '../gzs/index.js';
/**
 * One replicator A → B as a process (`node dist/src/drc/main.js --from A --to B`, the `drc`
 * launcher kind), on the part runtime: /healthz and /metrics on --port (default: B's ports.drc +
 * index of A), JSON logs, clean SIGTERM. `--source` is where B reaches A's MariaDB (the link
 * `B->A:mysql` when `ezctl up` runs on links); `--help` lists every flag.
 */
import { flag } from '../runtime/flags.js';
import { runPart } from '../runtime/part.js';
import { mysqlAccount } from '../shared/mysql-accounts.js';
import { GzsOwnership } from './gzs-ownership.js';
import { OrderLockClearer } from './lock-clear.js';
import { checkDirection, drcPort } from './names.js';
import { Replicator } from './replicator.js';

await runPart({
  part: 'drc',
  entry: 'src/drc/main.js',
  summary: "one DRC replicator: applies A's binlog in B (last-writer-wins, checkpoint in B)",
  flags: {
    from: flag.zone('the source eZone A', { required: true }),
    to: flag.zone('the target eZone B (where this replicator runs)', { required: true }),
    source: flag.hostPort("A's MariaDB as seen from B; default: A's ports.mysql on 127.0.0.1"),
    target: flag.hostPort("B's MariaDB; default: B's ports.mysql on 127.0.0.1"),
    host: flag.string('address of /healthz and /metrics', { fallback: '127.0.0.1' }),
    port: flag.port("port of /healthz and /metrics; default: B's ports.drc + index of A"),
    heartbeat: flag.duration('heartbeat row interval in the source (lag probe)', { min: 10, max: 60_000 }),
    'max-group-rows': flag.int('most row changes per target transaction when behind', 1, 100_000),
    'start-at': flag.oneOf('where to start without a checkpoint', ['beginning', 'end'] as const),
    'lag-log': flag.file('append every lag sample to this file (diagnostics, benches)'),
    gzs: flag.urls(
      "GZS URL(s) as B reaches them: the illegal-write audit judges every row by GZS's ownership log; none: no audit",
      {
        env: 'EZ_GZS_URL',
      },
    ),
    'ownership-grace': flag.duration(
      "a write by a shard's previous owner this long after the owner change still counts as its own (the hosts' clock skew)",
      { min: 0, max: 60_000 },
    ),
  },
  logFields: (f) => ({ source: f.from, target: f.to }),
  async start({ flags, topology, log }) {
    const { from, to } = flags;
    checkDirection(topology, from, to);
    const source = flags.source ?? { host: '127.0.0.1', port: topology.deployment.zones[from].ports.mysql };
    const target = flags.target ?? { host: '127.0.0.1', port: topology.deployment.zones[to].ports.mysql };
    const ownership = flags.gzs?.length
      ? new GzsOwnership({ gzs: flags.gzs, topology, graceMs: flags['ownership-grace'], log })
      : undefined;
    if (!ownership)
      log.warn('no --gzs: writes are not audited for ownership (the illegal-write report stays empty)');
    ownership?.start();
    const replicator = new Replicator({
      topology,
      from,
      to,
      source,
      target,
      log,
      ownership,
      heartbeatMs: flags.heartbeat,
      maxGroupRows: flags['max-group-rows'],
      startAt: flags['start-at'],
      lagLog: flags['lag-log'],
    });
    replicator.start();
    // the order-lock rules of a failover of A clear once A's tail is applied here
    const reader = mysqlAccount('reader');
    const asReader = (e: { host: string; port: number }) => ({
      host: e.host,
      port: e.port,
      user: reader.user,
      password: reader.password,
      database: topology.database,
    });
    const clearer = flags.gzs?.length
      ? new OrderLockClearer({
          gzs: new GzsApi([...flags.gzs], { timeoutMs: 2000 }),
          topology,
          from,
          to,
          source: () => (replicator.source ? asReader(replicator.source) : null),
          target: asReader(target),
          log,
        })
      : undefined;
    clearer?.start();
    return {
      close: async () => {
        await clearer?.stop();
        await replicator.stop();
        await ownership?.stop();
      },
      ops: {
        host: flags.host ?? '127.0.0.1',
        port: flags.port ?? drcPort(topology, from, to),
        health: async () => ({
          ...(await replicator.health()),
          audit: ownership?.status() ?? 'off (no --gzs)',
          orderLocks: clearer?.status() ?? 'off (no --gzs)',
        }),
      },
      registry: replicator.metrics.registry,
      ready: { source: `${source.host}:${source.port}`, target: `${target.host}:${target.port}` },
    };
  },
});
