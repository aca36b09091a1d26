// Remote hosts of a cluster: what each needs (Debian packages, Node.js, the project), checking it
// (`ezctl hosts check`, and `up` before it starts anything), installing it (`ezctl hosts prepare`:
// packages from the host's apt, Node.js and the project copied from this machine), and the
// topology staged on each host.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import type { Topology } from '../topology/index.js';
import { EzError } from '../util/errors.js';
import { projectRoot } from '../util/paths.js';
import { shq } from '../util/shell.js';
import { type Host, hostFor } from './host.js';
import type { SshHost } from './ssh-host.js';
import { stageTopology } from './stage.js';

/** A Debian package and the commands that prove it is installed. */
interface Need {
  pkg: string;
  commands: string[];
}

/** What each launcher kind needs on its host. The project's Node parts need Node.js and the project. */
const KIND_NEEDS: Record<string, Need[]> = {
  mariadb: [
    { pkg: 'mariadb-server', commands: ['mariadbd', 'mariadb-install-db', 'mariadb', 'mariadb-admin'] },
  ],
  // DRC installs its triggers through the target's socket with the mariadb client
  drc: [{ pkg: 'mariadb-client', commands: ['mariadb'] }],
  redis: [{ pkg: 'redis-server', commands: ['redis-server'] }],
  zookeeper: [
    { pkg: 'libzookeeper-java', commands: [] },
    { pkg: 'default-jre-headless', commands: ['java'] },
  ],
};
/** Always: what the launcher itself runs on a host (tar for the project copy, setsid for detached starts). */
const BASE_NEEDS: Need[] = [
  { pkg: 'tar', commands: ['tar'] },
  { pkg: 'util-linux', commands: ['setsid'] },
  { pkg: 'coreutils', commands: ['nohup', 'sha1sum'] },
];

/** The remote hosts a set of planned instances uses, each with the kinds it runs. */
export function remoteHostsOf(
  topology: Topology,
  instances: { host: string; kind: string }[],
): { host: SshHost; kinds: Set<string> }[] {
  const by = new Map<string, Set<string>>();
  for (const i of instances) {
    if (!topology.hosts[i.host]?.ssh) continue;
    by.set(i.host, (by.get(i.host) ?? new Set()).add(i.kind));
  }
  return [...by].map(([name, kinds]) => ({ host: hostFor(name, topology) as SshHost, kinds }));
}

/**
 * The project's identity: package.json, the lockfile and every file under dist/ (content), so a
 * host whose copy differs from this machine's is found. Computed once per process.
 */
let bundleIdMemo: string | undefined;
export function bundleId(): string {
  if (bundleIdMemo) return bundleIdMemo;
  const root = projectRoot();
  const h = createHash('sha1');
  for (const f of ['package.json', 'package-lock.json']) {
    try {
      h.update(f).update(readFileSync(join(root, f)));
    } catch {}
  }
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) h.update(relative(root, p)).update(readFileSync(p));
    }
  };
  walk(join(root, 'dist'));
  bundleIdMemo = h.digest('hex').slice(0, 16);
  return bundleIdMemo;
}

const bundleFile = (host: Host): string => join(host.projectRoot, '.ezctl-bundle');

/** The sha1 of this machine's Node.js binary (a host's copy must be the same). */
let nodeSha: string | undefined;
const localNodeSha = (): string =>
  (nodeSha ??= createHash('sha1').update(readFileSync(process.execPath)).digest('hex'));

export interface HostLack {
  /** `package mariadb-server`, `node`, `project` */
  what: string;
  /** what is wrong, one clause */
  detail: string;
}

export interface HostCheck {
  host: string;
  target: string;
  kinds: string[];
  lacks: HostLack[];
  ms: number;
}

function needsOf(kinds: Iterable<string>): Need[] {
  const out = [...BASE_NEEDS];
  for (const k of kinds)
    for (const n of KIND_NEEDS[k] ?? []) if (!out.some((o) => o.pkg === n.pkg)) out.push(n);
  return out;
}

const NODE_KINDS = new Set(['gzs', 'router', 'soa', 'orders', 'dal', 'drc', 'invalidator', 'links']);

/** What a host lacks for the kinds it runs: one ssh command. Throws (one line) when it cannot be reached. */
export async function checkHost(host: SshHost, kinds: Iterable<string>): Promise<HostCheck> {
  const t0 = performance.now();
  const kindList = [...kinds];
  const needs = needsOf(kindList);
  const lines = needs.flatMap((n) => [
    `dpkg-query -W -f='\${Status}' ${shq(n.pkg)} 2>/dev/null | grep -q 'install ok installed' || echo "pkg ${n.pkg}"`,
    ...n.commands.map((c) => `command -v ${shq(c)} >/dev/null 2>&1 || echo "cmd ${n.pkg} ${c}"`),
  ]);
  if (kindList.some((k) => NODE_KINDS.has(k))) {
    lines.push(
      `if [ -x ${shq(host.node)} ]; then echo "nodesha $(sha1sum < ${shq(host.node)} | cut -d' ' -f1)"; else echo "nonode"; fi`,
      `cat ${shq(bundleFile(host))} 2>/dev/null | sed 's/^/bundle /' || true`,
    );
  }
  lines.push(`test -d ${shq(host.entry.dir)} && test -w ${shq(host.entry.dir)} || echo nodir`);
  const r = await host.run('sh', ['-c', lines.join('\n')]);
  const lacks: HostLack[] = [];
  const out = r.stdout.split('\n').filter(Boolean);
  const cmdMissing = new Map<string, string[]>();
  for (const l of out) {
    const [tag, a, b] = l.split(' ');
    if (tag === 'pkg') lacks.push({ what: `package ${a}`, detail: 'not installed' });
    else if (tag === 'cmd') cmdMissing.set(a, [...(cmdMissing.get(a) ?? []), b]);
  }
  for (const [pkg, cmds] of cmdMissing)
    if (!lacks.some((x) => x.what === `package ${pkg}`))
      lacks.push({ what: `package ${pkg}`, detail: `${cmds.join(', ')} not found on PATH` });
  if (kindList.some((k) => NODE_KINDS.has(k))) {
    const sha = out.find((l) => l.startsWith('nodesha '))?.slice(8);
    if (!sha) lacks.push({ what: 'node', detail: `no Node.js at ${host.node}` });
    else if (sha !== localNodeSha())
      lacks.push({ what: 'node', detail: `${host.node} is not this machine's Node.js ${process.version}` });
    const bundle = out.find((l) => l.startsWith('bundle '))?.slice(7);
    if (!bundle) lacks.push({ what: 'project', detail: `no copy of ezctl in ${host.projectRoot}` });
    else if (bundle !== bundleId())
      lacks.push({
        what: 'project',
        detail: `the copy in ${host.projectRoot} (${bundle}) is not this machine's (${bundleId()})`,
      });
  }
  if (out.includes('nodir'))
    lacks.push({ what: 'dir', detail: `${host.entry.dir} does not exist or is not writable` });
  return {
    host: host.name,
    target: host.target,
    kinds: kindList.sort(),
    lacks,
    ms: Math.round(performance.now() - t0),
  };
}

/** One line per host that lacks something, naming what and what to do. */
export function lacksError(checks: HostCheck[], topologyFile: string): EzError | null {
  const bad = checks.filter((c) => c.lacks.length > 0);
  if (bad.length === 0) return null;
  return new EzError(
    'EZ_HOST_NOT_READY',
    bad
      .map(
        (c) =>
          `host ${c.host} (${c.target}) lacks ${c.lacks.map((l) => `${l.what} (${l.detail})`).join(', ')}: run \`ezctl hosts prepare -t ${topologyFile}\``,
      )
      .join('; '),
  );
}

/** Before `up` starts anything remote: every host reachable, nothing lacking, the topology staged there. */
export async function preflight(
  topology: Topology,
  instances: { host: string; kind: string }[],
): Promise<void> {
  const hosts = remoteHostsOf(topology, instances);
  const checks = await Promise.all(hosts.map(({ host, kinds }) => checkHost(host, kinds)));
  const err = lacksError(checks, topology.file);
  if (err) throw err;
  // only the project's parts read the topology: a host running just MariaDB and Redis needs none
  await Promise.all(
    hosts
      .filter(({ kinds }) => [...kinds].some((k) => NODE_KINDS.has(k)))
      .map(({ host }) => stageTopology(host, topology)),
  );
}

export type PrepareStep = 'dir' | 'packages' | 'node' | 'project' | 'done';
export interface PrepareEvent {
  host: string;
  step: PrepareStep;
  /** what was done, or `present` when nothing was needed */
  message: string;
  ms?: number;
}

/** The production dependencies' directories (npm's own view), relative to the project. */
async function productionPaths(root: string): Promise<string[]> {
  const r = await execa('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, reject: false });
  const paths = String(r.stdout)
    .split('\n')
    .filter((p) => p.startsWith(join(root, 'node_modules')))
    .map((p) => relative(root, p));
  if (paths.length === 0)
    throw new EzError(
      'EZ_PREPARE',
      `cannot list the production dependencies (npm ls: ${String(r.stderr).split('\n')[0]})`,
    );
  return [...new Set(paths)];
}

let tarball: Promise<{ file: string; bytes: number }> | undefined;
/** The project as one tarball (dist, bin, fixtures, package files, production node_modules), built once per run. */
function projectTarball(): Promise<{ file: string; bytes: number }> {
  tarball ??= (async () => {
    const root = projectRoot();
    const dir = mkdtempSync(join(tmpdir(), 'ezctl-bundle-'));
    const file = join(dir, 'ezctl.tar.gz');
    const paths = [
      'package.json',
      'package-lock.json',
      'bin',
      'dist',
      'fixtures',
      ...(await productionPaths(root)),
    ];
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    // --no-recursion on nothing: the dependency dirs are listed one by one (nested ones too) and tar
    // recurses into each; duplicates from nesting are harmless for extraction
    await execa(
      'tar',
      [
        '-C',
        root,
        '-czf',
        file,
        ...paths.filter((p) => !paths.some((q) => q !== p && p.startsWith(`${q}/`))),
      ],
      {
        env: { GZIP: '-1' },
      },
    );
    return { file, bytes: statSync(file).size };
  })();
  return tarball;
}

/**
 * Install what a host lacks, idempotently: its directory, the Debian packages (apt-get on the
 * host, as root or with sudo -n), this machine's Node.js binary, the project. Each step reports.
 */
export async function prepareHost(
  host: SshHost,
  kinds: Iterable<string>,
  onEvent: (e: PrepareEvent) => void = () => {},
): Promise<HostCheck> {
  const step = async (name: PrepareStep, fn: () => Promise<string>): Promise<void> => {
    const t0 = performance.now();
    const message = await fn();
    onEvent({ host: host.name, step: name, message, ms: Math.round(performance.now() - t0) });
  };
  const run = async (
    script: string,
    what: string,
    o: { inputFile?: string; timeoutMs?: number } = {},
  ): Promise<void> => {
    const r = await host.run('sh', ['-c', script], {
      inputFile: o.inputFile,
      timeoutMs: o.timeoutMs ?? 600_000,
    });
    if (r.exitCode !== 0)
      throw new EzError(
        'EZ_PREPARE',
        `host ${host.name} (${host.target}): ${what} failed (exit ${r.exitCode}): ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' | ')}`,
      );
  };
  await step('dir', async () => {
    await run(`mkdir -p ${shq(join(host.entry.dir, 'ezctl'))}`, `mkdir ${host.entry.dir}`);
    return host.entry.dir;
  });
  let check = await checkHost(host, kinds);
  const pkgs = check.lacks.filter((l) => l.what.startsWith('package ')).map((l) => l.what.slice(8));
  await step('packages', async () => {
    if (pkgs.length === 0) return 'present';
    const sudo = host.user === 'root' ? '' : 'sudo -n ';
    await run(
      `export DEBIAN_FRONTEND=noninteractive; ${sudo}apt-get install -y --no-install-recommends ${pkgs.map(shq).join(' ')} >/dev/null || { ${sudo}apt-get update -q >/dev/null && ${sudo}apt-get install -y --no-install-recommends ${pkgs.map(shq).join(' ')} >/dev/null; }` +
        // Debian starts a distro service on install: ezctl runs private instances, never these
        `; for s in mariadb redis-server; do command -v systemctl >/dev/null && ${sudo}systemctl disable --now "$s" >/dev/null 2>&1; done; true`,
      `apt-get install ${pkgs.join(' ')}`,
    );
    return `installed ${pkgs.join(', ')}`;
  });
  // a host that runs no part of this project (e.g. an eZone's database machine) needs neither
  const needsNode = [...kinds].some((k) => NODE_KINDS.has(k));
  await step('node', async () => {
    if (!needsNode) return 'not needed (no Node.js part on this host)';
    if (!check.lacks.some((l) => l.what === 'node')) return 'present';
    const tmp = `${host.node}.tmp.${process.pid}`;
    await run(
      `cat > ${shq(tmp)} && chmod 755 ${shq(tmp)} && mv -f ${shq(tmp)} ${shq(host.node)}`,
      'copy Node.js',
      {
        inputFile: process.execPath,
      },
    );
    return `copied ${process.version} (${Math.round(statSync(process.execPath).size / 1e6)} MB)`;
  });
  await step('project', async () => {
    if (!needsNode) return 'not needed (no Node.js part on this host)';
    if (!check.lacks.some((l) => l.what === 'project')) return 'present';
    const tb = await projectTarball();
    const app = host.projectRoot;
    const next = `${app}.next.${process.pid}`;
    // unpack beside, then swap: a half-copied project is never the one parts start from
    await run(
      `rm -rf ${shq(next)} && mkdir -p ${shq(next)} && tar -C ${shq(next)} -xzf - && echo ${shq(bundleId())} > ${shq(join(next, '.ezctl-bundle'))} && rm -rf ${shq(`${app}.old`)} && { [ ! -e ${shq(app)} ] || mv ${shq(app)} ${shq(`${app}.old`)}; } && mv ${shq(next)} ${shq(app)} && rm -rf ${shq(`${app}.old`)}`,
      'copy the project',
      { inputFile: tb.file },
    );
    return `copied ${bundleId()} (${Math.round(tb.bytes / 1e6)} MB)`;
  });
  check = await checkHost(host, kinds);
  onEvent({
    host: host.name,
    step: 'done',
    message: check.lacks.length === 0 ? 'ready' : `still lacks ${check.lacks.map((l) => l.what).join(', ')}`,
  });
  return check;
}
