// Test hosts for remote mode: Linux network namespaces on this machine, each with its own address,
// loopback and sshd, made and removed by scripts/test-hosts.sh (docs/remote.md, "Test hosts in
// network namespaces"). Root only; testHostsSupported() says why not.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { projectRoot } from '../../src/util/paths.js';

export interface TestHost {
  /** also its namespace's name: `<prefix><n>` */
  name: string;
  netns: string;
  address: string;
  sshPort: number;
  user: string;
  /** its working directory (what a topology's hosts.<name>.dir names) */
  dir: string;
  /** its sshd (the listener; sessions are its children, in the same namespace) */
  sshdPid: number;
}

export interface TestHosts {
  prefix: string;
  count: number;
  bridge: string;
  /** this machine's address on the bridge (what the hosts reach it by) */
  address: string;
  /** the private key every host accepts, and the known_hosts holding every host key */
  key: string;
  knownHosts: string;
  hosts: TestHost[];
  /** the directory holding keys, configs and hosts.json (removed by destroy) */
  dir: string;
  /** stop everything in the namespaces (by pid), remove veths, namespaces, bridge and files; idempotent */
  destroy(): Promise<void>;
}

export interface TestHostsOptions {
  count: number;
  /** default: a new temporary directory */
  dir?: string;
  /** names `<prefix>br0` and `<prefix>1..N`; default ezh. Callers running at once need their own. */
  prefix?: string;
  /** the first three octets of a /24; default 10.231.0. Callers running at once need their own. */
  subnet?: string;
}

export const testHostsScript = (): string => join(projectRoot(), 'scripts', 'test-hosts.sh');

const run = (args: string[]) =>
  execa('bash', [testHostsScript(), ...args], { reject: false, timeout: 120_000, stdin: 'ignore' });

const output = (r: { stdout: unknown; stderr: unknown }): string =>
  (String(r.stderr).trim() || String(r.stdout).trim()).split('\n').join('; ');

/** null when test hosts can be made here (root, ip netns, sshd, ssh), else what is missing. */
export async function testHostsSupported(): Promise<string | null> {
  if (process.platform !== 'linux') return `not Linux (${process.platform}): no network namespaces`;
  const r = await run(['check']);
  if (r.exitCode === 0) return null;
  return String(r.stdout).trim().split('\n').join('; ') || output(r) || 'scripts/test-hosts.sh check failed';
}

/**
 * Why a test of test hosts may skip here, or null: never under CI (it runs as root with
 * openssh-server from scripts/setup.sh, so a missing piece must fail the test, not skip it).
 */
export async function testHostsSkip(): Promise<string | null> {
  const why = await testHostsSupported();
  return why !== null && !process.env.CI ? why : null;
}

/** Make `count` hosts; throws with the script's one-line reason when it cannot. */
export async function createTestHosts(o: TestHostsOptions): Promise<TestHosts> {
  const prefix = o.prefix ?? 'ezh';
  const subnet = o.subnet ?? '10.231.0';
  const ownDir = o.dir === undefined;
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), `ez-${prefix}-`));
  // a prefix belongs to one caller: what a run that died before its teardown left is cleared first
  await run(['down', '--prefix', prefix, '--count', String(o.count)]);
  const up = await run([
    'up',
    '--dir',
    dir,
    '--count',
    String(o.count),
    '--prefix',
    prefix,
    '--subnet',
    subnet,
  ]);
  if (up.exitCode !== 0) {
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    throw new Error(`test hosts: ${output(up) || `scripts/test-hosts.sh up exited ${up.exitCode}`}`);
  }
  const info = JSON.parse(readFileSync(join(dir, 'hosts.json'), 'utf8')) as Omit<
    TestHosts,
    'destroy' | 'dir'
  >;
  return {
    ...info,
    dir,
    async destroy() {
      const r = await run(['down', '--dir', dir, '--prefix', prefix]);
      if (ownDir) rmSync(dir, { recursive: true, force: true });
      if (r.exitCode !== 0) throw new Error(`test hosts: ${output(r)}`);
    },
  };
}

/** ssh arguments that log in to `host` as its user with the hosts' key and known_hosts (then the command). */
export function sshArgs(hosts: Pick<TestHosts, 'key' | 'knownHosts'>, host: TestHost): string[] {
  return [
    '-i',
    hosts.key,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    `UserKnownHostsFile=${hosts.knownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'ConnectTimeout=5',
    '-p',
    String(host.sshPort),
    `${host.user}@${host.address}`,
  ];
}
