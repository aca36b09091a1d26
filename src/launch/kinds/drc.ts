/** Launcher kind `drc`: the DRC replicator of every ordered eZone pair, running in its target eZone (source read through `B->A:mysql`). */
import { join } from 'node:path';
import { mysqlAccount } from '../../shared/mysql-accounts.js';
import {
  directions,
  drcInstanceName,
  drcPort,
  gzsUrlFrom,
  linkName,
  reach,
  type Topology,
} from '../../topology/index.js';
import { EzError } from '../../util/errors.js';
import { formatHostPort } from '../../util/parse.js';
import { type Host, hostFor, terminate } from '../host.js';
import { socketPathFor } from './mariadb.js';
import { projectPart } from './node-part.js';
import { probeHealthz } from './probe.js';
import type { InstanceSpec, LaunchCommand, ProcessKind } from './types.js';

type DrcFace = typeof import('../../drc/index.js');

export interface DrcParams {
  from: string;
  to: string;
  topologyFile: string;
  database: string;
  /** the target eZone's MariaDB socket: DRC's triggers are installed there as root */
  targetSocket: string;
  /** the host B's MariaDB runs on (root logs in on its socket there; the replicator may run elsewhere) */
  targetHost: string;
  /** B's MariaDB as the replicator reaches it (`address:port`) */
  target: string;
  /** A's MariaDB as B reaches it: the link `B->A:mysql` when on links, else A's port */
  source: string;
  /** the link the source goes through, or null (direct) */
  via: string | null;
  /** GZS as B reaches it: the illegal-write audit reads GZS's ownership log */
  gzs: string;
}

const rootArgs = (socket: string) => ['--no-defaults', `--socket=${socket}`, '--user=root'];
const rootEnv = (): Record<string, string> | undefined => {
  const pw = mysqlAccount('root').password;
  return pw ? { MYSQL_PWD: pw } : undefined;
};

/**
 * One install at a time per target database: the replicators into one eZone (two of them with
 * three eZones) are prepared in parallel, and concurrent CREATE OR REPLACE TRIGGER / ALTER TABLE
 * on the same tables race. `up` holds the cluster lock, so in-process ordering is enough.
 */
const installs = new Map<string, Promise<void>>();

function installOnce(spec: InstanceSpec<DrcParams>, host: Host, topology: Topology): Promise<void> {
  const key = spec.params.targetSocket;
  const run = (installs.get(key) ?? Promise.resolve())
    .catch(() => undefined)
    .then(() => installDrcObjects(spec, host, topology));
  installs.set(key, run);
  return run;
}

/** Install DRC's tables, invisible column and triggers in the target eZone, as root (idempotent). */
async function installDrcObjects(
  spec: InstanceSpec<DrcParams>,
  host: Host,
  topology: Topology,
): Promise<void> {
  // DRC's install scripts, loaded when a replicator is prepared (its face pulls in the replicator)
  const { columnTypesQuery, installScript, parseColumnTypes, tableSpecs } = await import(
    '../../drc/index.js'
  );
  const tables = [...tableSpecs(topology).values()];
  const p = spec.params;
  const q = await host.run('mariadb', [...rootArgs(p.targetSocket), '--batch', '--skip-column-names'], {
    env: rootEnv(),
    input: `${columnTypesQuery(p.database, tables)};\n`,
    timeoutMs: 30_000,
  });
  if (q.exitCode !== 0)
    throw new EzError(
      'EZ_DRC_INSTALL',
      `${spec.name}: cannot read the schema of ${p.to}: ${q.stderr.trim()}`,
    );
  const rows = q.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t') as [string, string, string]);
  let types: ReturnType<DrcFace['parseColumnTypes']>;
  try {
    types = parseColumnTypes(rows, tables, `${p.to} (${p.database})`);
  } catch (err) {
    throw new EzError('EZ_DRC_INSTALL', `${spec.name}: ${(err as Error).message}`);
  }
  const r = await host.run('mariadb', [...rootArgs(p.targetSocket), '--batch'], {
    env: rootEnv(),
    input: installScript(p.database, tables, types),
    timeoutMs: 120_000,
  });
  if (r.exitCode !== 0)
    throw new EzError(
      'EZ_DRC_INSTALL',
      `${spec.name}: installing DRC's objects in ${p.to} failed: ${r.stderr.trim()}`,
    );
}

/** The replicator of every ordered eZone pair (3 eZones: 6), each running in its target eZone. */
export const drc: ProcessKind<DrcParams> = {
  kind: 'drc',
  after: ['mariadb', 'links', 'gzs'],
  readyTimeoutMs: 30_000,
  description: 'DRC replicator per ordered eZone pair (runs in the target eZone; metrics on ports.drc+k)',

  instances({ topology, dataDir, links, hostOf }) {
    return directions(topology).map(({ from, to }) => {
      const dir = join(dataDir(to, 'drc'), from);
      const db = hostOf(to, 'mariadb');
      return {
        name: drcInstanceName(from, to),
        kind: 'drc',
        zone: to,
        ...hostOf(to, 'drc'),
        port: drcPort(topology, from, to),
        dataDir: dir,
        logFile: join(dir, 'drc.log'),
        params: {
          from,
          to,
          topologyFile: topology.file,
          database: topology.database,
          targetSocket: socketPathFor(dataDir(to, 'mariadb')),
          targetHost: db.host,
          target: formatHostPort({ host: db.address, port: topology.deployment.zones[to].ports.mysql }),
          source: formatHostPort(reach(topology, links.on, to, from, 'mysql')),
          via: links.on ? linkName(to, from, 'mysql') : null,
          gzs: gzsUrlFrom(topology, links.on, to),
        },
      };
    });
  },

  async prepare(spec) {
    // the data dir is the log's: spawnDetached makes it. The install runs on MariaDB's host
    // (root only on its socket), which need not be the replicator's.
    const { loadTopology } = await import('../../topology/index.js');
    const topology = loadTopology(spec.params.topologyFile);
    await installOnce(spec, hostFor(spec.params.targetHost, topology), topology);
  },

  async command(spec, host): Promise<LaunchCommand> {
    const p = spec.params;
    return projectPart(host, 'src/drc/main.js', {
      topologyFile: p.topologyFile,
      address: spec.address,
      port: spec.port,
      args: ['--target', p.target, '--from', p.from, '--to', p.to, '--source', p.source, '--gzs', p.gzs],
    });
  },

  async ready(spec, host) {
    // answering at all is ready: a replicator still connecting to its source says so in /healthz (503)
    return (await probeHealthz(host, spec.port))?.body.includes('"state"') ?? false;
  },

  async stop(_spec, host, pid, startToken) {
    await terminate(host, pid, { startToken, graceMs: 15_000 });
  },

  endpoints(spec) {
    return {
      healthz: `http://${spec.address}:${spec.port}/healthz`,
      source: spec.params.source,
      ...(spec.params.via ? { via: `link ${spec.params.via}` } : {}),
    };
  },
};
