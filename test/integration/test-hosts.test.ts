// The test hosts of remote mode (scripts/test-hosts.sh through harness/hosts/namespaces.ts): two
// network namespaces with their own address, loopback and sshd; ssh plain and multiplexed; and a
// teardown that leaves no namespace, bridge, sshd or process started in a host behind (twice).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestHosts,
  sshArgs,
  type TestHosts,
  testHostsScript,
  testHostsSkip,
} from '../../harness/hosts/namespaces.js';
import { shq } from '../../src/util/shell.js';

const PREFIX = 'ezt';
const SUBNET = '10.232.0';
const unsupported = await testHostsSkip();
const skip = unsupported !== null;

/** A process identity that survives pid reuse: pid plus its start time (field 22 of /proc/<pid>/stat). */
interface Proc {
  pid: number;
  start: string;
}
function procStat(pid: number): { state: string; start: string } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: f[0], start: f[19] };
  } catch {
    return null;
  }
}
const procOf = (pid: number): Proc => ({ pid, start: procStat(pid)?.start ?? '' });
/** still running: the same process, not a zombie (this machine's init reaps orphans only now and then) */
function running(p: Proc): boolean {
  const st = procStat(p.pid);
  return st !== null && st.state !== 'Z' && st.start === p.start;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2;
};

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

const nsList = async (): Promise<string[]> =>
  String((await execa('ip', ['netns', 'list'])).stdout)
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => new RegExp(`^${PREFIX}\\d+$`).test(n));

const nsPids = async (ns: string): Promise<number[]> =>
  String((await execa('ip', ['netns', 'pids', ns], { reject: false })).stdout)
    .split('\n')
    .filter(Boolean)
    .map(Number);

const bridgeExists = async (name: string): Promise<boolean> =>
  (await execa('ip', ['link', 'show', 'dev', name], { reject: false })).exitCode === 0;

describe.skipIf(skip)(`test hosts in network namespaces${skip ? ` (${unsupported})` : ''}`, () => {
  let hosts: TestHosts | undefined;
  // a short dir: a ControlPath is a unix socket path (≤ 104 bytes)
  const controlDir = mkdtempSync('/tmp/eztcm-');
  const mux = ['-o', 'ControlMaster=auto', '-o', `ControlPath=${controlDir}/%C`, '-o', 'ControlPersist=30'];
  const plain = ['-o', 'ControlMaster=no', '-o', 'ControlPath=none'];
  const ssh = (i: number, cmd: string, opts: string[] = plain) =>
    execa('ssh', [...opts, ...sshArgs(hosts!, hosts!.hosts[i]), cmd], {
      reject: false,
      timeout: 30_000,
      stdin: 'ignore',
    });
  /** processes this test started inside the hosts (they must not outlive destroy) */
  const started: Proc[] = [];

  beforeAll(async () => {
    hosts = await createTestHosts({ count: 2, prefix: PREFIX, subnet: SUBNET });
  }, 120_000);

  afterAll(async () => {
    // whatever happened above: close the masters, remove the hosts, then the same by prefix
    if (hosts) {
      for (const h of hosts.hosts)
        await execa('ssh', ['-O', 'exit', ...mux, ...sshArgs(hosts, h)], { reject: false, timeout: 5000 });
      await hosts.destroy().catch(() => undefined);
    }
    await execa('bash', [testHostsScript(), 'down', '--prefix', PREFIX], { reject: false });
    rmSync(controlDir, { recursive: true, force: true });
  }, 60_000);

  it('hosts.json: a bridge address, a key, known_hosts, and per host a namespace, address, dir and live sshd', () => {
    const h = hosts!;
    expect(h.bridge).toBe(`${PREFIX}br0`);
    expect(h.address).toBe(`${SUBNET}.1`);
    expect(h.hosts.map((x) => [x.name, x.netns, x.address, x.sshPort, x.user])).toEqual([
      [`${PREFIX}1`, `${PREFIX}1`, `${SUBNET}.11`, 22, 'root'],
      [`${PREFIX}2`, `${PREFIX}2`, `${SUBNET}.12`, 22, 'root'],
    ]);
    for (const x of h.hosts) {
      expect(x.dir).toBe(join(h.dir, x.name, 'work'));
      expect(running(procOf(x.sshdPid))).toBe(true);
    }
    expect(readFileSync(h.knownHosts, 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it('each host has its own address (and not the other’s, nor the bridge’s)', async () => {
    const h = hosts!;
    for (const [i, other] of [
      [0, 1],
      [1, 0],
    ]) {
      const r = await ssh(i, 'ip -4 -o addr show');
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toContain(` ${h.hosts[i].address}/24 `);
      expect(r.stdout).toContain(' 127.0.0.1/8 ');
      expect(r.stdout).not.toContain(h.hosts[other].address);
      expect(r.stdout).not.toContain(`${h.address}/24`);
    }
  });

  it('loopbacks are separate: a server on 127.0.0.1 in host 1 is not reachable on host 2 nor here', async () => {
    const port = await freePort();
    const server = `require('net').createServer((s) => s.end('hello from ${hosts!.hosts[0].name}\\n')).listen(${port}, '127.0.0.1')`;
    const start = await ssh(
      0,
      `setsid nohup ${shq(process.execPath)} -e ${shq(server)} >/dev/null 2>&1 </dev/null & echo $!; ` +
        `setsid nohup sleep 600 >/dev/null 2>&1 </dev/null & echo $!`,
    );
    expect(start.exitCode, start.stderr).toBe(0);
    for (const pid of String(start.stdout).trim().split('\n').map(Number)) started.push(procOf(pid));
    expect(started).toHaveLength(2);
    // the processes live in host 1's namespace (pids are shared with this machine)
    const inNs = await nsPids(hosts!.hosts[0].netns);
    for (const p of started) expect(inNs).toContain(p.pid);

    const client = `const s = require('net').connect(${port}, '127.0.0.1');
      s.on('data', (d) => { process.stdout.write(d); s.destroy(); });
      s.on('error', (e) => { console.log(e.code); process.exitCode = 3; });`;
    const probe = (i: number) => ssh(i, `${shq(process.execPath)} -e ${shq(client)}`);
    let r = await probe(0);
    for (let t = 0; t < 50 && !String(r.stdout).includes('hello'); t++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      r = await probe(0);
    }
    expect(r.stdout).toBe(`hello from ${hosts!.hosts[0].name}`);
    const other = await probe(1);
    expect(other.stdout).toBe('ECONNREFUSED');
    expect(other.exitCode).toBe(3);
    const here = await execa(process.execPath, ['-e', client], { reject: false });
    expect(here.stdout).toBe('ECONNREFUSED');
  });

  it('ssh multiplexed on a ControlMaster works, with many sessions at once; timings plain vs multiplexed', async () => {
    const first = await ssh(0, 'true', mux);
    expect(first.exitCode, first.stderr).toBe(0);
    const check = await execa('ssh', ['-O', 'check', ...mux, ...sshArgs(hosts!, hosts!.hosts[0])], {
      reject: false,
    });
    expect(check.exitCode, check.stderr).toBe(0);
    expect(check.stderr).toMatch(/Master running/);
    // 20 sessions at once on the one connection (MaxSessions 64)
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => ssh(0, `echo ${i}`, mux)));
    expect(many.map((r) => [r.exitCode, r.stdout])).toEqual(
      Array.from({ length: 20 }, (_, i) => [0, String(i)]),
    );

    const time = async (opts: string[]): Promise<number[]> => {
      const ms: number[] = [];
      for (let i = 0; i < 10; i++) {
        const t0 = performance.now();
        const r = await ssh(1, 'true', opts);
        ms.push(performance.now() - t0);
        expect(r.exitCode, r.stderr).toBe(0);
      }
      return ms;
    };
    const plainMs = await time(plain);
    await ssh(1, 'true', mux); // opens host 2's master
    const muxMs = await time(mux);
    console.log(
      `test hosts: 'ssh host true' median of 10: plain ${median(plainMs).toFixed(1)} ms, multiplexed ${median(muxMs).toFixed(1)} ms`,
    );
  }, 60_000);

  it('destroy leaves no namespace, bridge, sshd or process started in a host; a second destroy and down are fine', async () => {
    const h = hosts!;
    const sshds = h.hosts.map((x) => procOf(x.sshdPid));
    // everything in the namespaces now: the sshds, their sessions (the masters), what was started
    const inside: Proc[] = [];
    for (const x of h.hosts) for (const pid of await nsPids(x.netns)) inside.push(procOf(pid));
    expect(inside.length).toBeGreaterThanOrEqual(sshds.length + started.length);
    expect(started.length).toBeGreaterThan(0);

    await h.destroy();

    expect(await nsList()).toEqual([]);
    expect(await bridgeExists(h.bridge)).toBe(false);
    expect(sshds.filter(running)).toEqual([]);
    expect(started.filter(running)).toEqual([]);
    expect(inside.filter(running)).toEqual([]);
    expect(String((await execa('ip', ['-o', 'link', 'show', 'type', 'veth'])).stdout)).not.toMatch(
      new RegExp(`v-${PREFIX}\\d`),
    );

    // down twice (and by prefix) never fails because something is already gone
    await h.destroy();
    const byDir = await execa('bash', [testHostsScript(), 'down', '--dir', h.dir], { reject: false });
    expect(byDir.exitCode, byDir.stderr).toBe(0);
    const byPrefix = await execa('bash', [testHostsScript(), 'down', '--prefix', PREFIX], { reject: false });
    expect(byPrefix.exitCode, byPrefix.stderr).toBe(0);
    expect(byPrefix.stdout).toMatch(/nothing left to remove/);
  }, 60_000);

  it('up refuses, naming what exists and how to remove it, when the prefix is taken', async () => {
    const again = await createTestHosts({ count: 1, prefix: PREFIX, subnet: SUBNET });
    try {
      const r = await execa(
        'bash',
        [testHostsScript(), 'up', '--dir', join(again.dir, 'x'), '--prefix', PREFIX, '--subnet', '10.233.0'],
        { reject: false },
      );
      expect(r.exitCode).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(
        new RegExp(
          `bridge ${PREFIX}br0 already exists: remove it with .*down --dir .*down --prefix ${PREFIX}`,
        ),
      );
      // and the refusal touched nothing: the host still answers
      hosts = again;
      expect((await ssh(0, 'true')).exitCode).toBe(0);
    } finally {
      await again.destroy();
    }
    expect(await nsList()).toEqual([]);
  }, 60_000);
});
