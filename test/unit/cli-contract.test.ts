// The CLI's contract: every command has --help and --json, errors as JSON, exit codes.
import { Config, settings } from '@oclif/core';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/util/paths.js';

// The CLI's contract with its users: every command has --help and --json, and with --json prints
// valid JSON, also for an error. Runs the built CLI (npm test builds first).
const run = (args: string[]) =>
  execa('node', ['bin/run.js', ...args], { cwd: projectRoot(), reject: false, env: { NODE_ENV: 'test' } });

let config: Config;

/** Every ezctl command, sorted. */
const COMMAND_IDS = [
  'audit:illegal-writes',
  'dal:status',
  'down',
  'drc:conflicts',
  'drc:resume',
  'drc:status',
  'drill:check',
  'drill:list',
  'drill:run',
  'failback',
  'failover',
  'gzs:acks',
  'gzs:history',
  'gzs:lock',
  'gzs:order-lock',
  'gzs:order-unlock',
  'gzs:owner',
  'gzs:serve',
  'gzs:table',
  'gzs:unlock',
  'gzs:zone',
  'hosts:check',
  'hosts:prepare',
  'links:fault',
  'links:heal',
  'links:list',
  'links:serve',
  'locks:list',
  'locks:release',
  'logs',
  'route',
  'shard:move',
  'status',
  'switch:status',
  'up',
  'workload',
];
beforeAll(async () => {
  settings.enableAutoTranspile = false; // read the compiled commands, as bin/run.js does
  config = await Config.load(projectRoot());
});

describe('ezctl CLI contract', () => {
  it('lists its topics and commands in --help', async () => {
    const r = await run(['--help']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/TOPICS[\s\S]*links/);
    for (const id of ['route', 'up', 'status', 'down']) expect(r.stdout).toContain(id);
  });

  it('gives every command --json, --topology and a description', () => {
    // the whole list: a command that vanishes (or one added without its contract) fails here
    expect(config.commands.map((c) => c.id).sort()).toEqual(COMMAND_IDS);
    for (const cmd of config.commands) {
      expect(Object.keys(cmd.flags), cmd.id).toEqual(expect.arrayContaining(['json', 'topology']));
      expect(cmd.summary ?? cmd.description, cmd.id).toBeTruthy();
    }
  });

  it('answers --help for every command without a stack trace', async () => {
    for (const cmd of config.commands) {
      const r = await run([...cmd.id.split(':'), '--help']);
      expect(r.exitCode, cmd.id).toBe(0);
      expect(r.stdout, cmd.id).toMatch(/USAGE/);
      expect(r.stderr, cmd.id).not.toMatch(/\bat .*\.js:\d+/);
    }
  });

  it('prints valid JSON for a result and for an error, with meaningful exit codes', async () => {
    const ok = await run(['route', '--tag', 'shard=1', '--json']);
    expect(ok.exitCode).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ shard: 1, epoch: 1 });

    const usage = await run(['route', '--tag', 'shard=x', '--json']);
    expect(usage.exitCode).toBe(2);
    expect(JSON.parse(usage.stdout)).toMatchObject({ error: { code: 'EZ_BAD_ROUTE' } });

    const badFlag = await run(['status', '--no-such-flag', '--json']);
    expect(badFlag.exitCode).toBe(2);
    expect(JSON.parse(badFlag.stdout).error.message).toMatch(/no-such-flag/);

    const badTopology = await run(['route', '--tag', 'shard=1', '--topology', '/nonexistent.yaml', '--json']);
    expect(badTopology.exitCode).toBe(2);
    expect(JSON.parse(badTopology.stdout)).toMatchObject({ error: { code: 'EZ_BAD_TOPOLOGY' } });
  });

  it('answers an unknown command with a usage error, as JSON with --json', async () => {
    const r = await run(['nosuch', '--json']);
    expect(r.exitCode).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({
      error: {
        code: 'EZ_USAGE',
        message: expect.stringMatching(/unknown command "nosuch" \(commands: .*status/),
      },
    });
    const plain = await run(['gzs', 'nosuch']);
    expect(plain.exitCode).toBe(2);
    expect(plain.stderr).toMatch(/^ezctl: unknown command "gzs nosuch"/);
  });

  it('says a cluster that is not running is not running: exit 1, running false', async () => {
    const r = await run(['status', '--state-dir', '/nonexistent/ezctl-state', '--json']);
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ running: false, healthy: false, processes: [] });
    const plain = await run(['status', '--state-dir', '/nonexistent/ezctl-state']);
    expect(plain.exitCode).toBe(1);
    expect(plain.stdout).toMatch(/cluster two-zones is not running: no processes recorded/);
  });

  it('bounds --watch --interval so a timer cannot overflow', async () => {
    const r = await run(['status', '--watch', '--interval', '40000m', '--count', '2', '--json']);
    expect(r.exitCode).toBe(2);
    expect(JSON.parse(r.stdout).error.message).toBe(
      '--interval: "40000m" is out of range (expected 100 ms to 1 h)',
    );
  });

  it('names only commands that exist in help texts', async () => {
    for (const cmd of config.commands) {
      const r = await run([...cmd.id.split(':'), '--help']);
      for (const m of r.stdout.matchAll(/`ezctl ([a-z-]+(?: [a-z-]+)?)/g)) {
        const words = m[1].split(' ');
        const known = COMMAND_IDS.includes(words.join(':')) || COMMAND_IDS.includes(words[0]);
        expect(known, `${cmd.id} --help names \`ezctl ${m[1]}\``).toBe(true);
      }
    }
  });
});
