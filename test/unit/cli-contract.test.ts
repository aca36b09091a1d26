import { Config, settings } from '@oclif/core';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/util/paths.js';

// The CLI's contract with its users: every command has --help and --json, and with --json prints
// valid JSON, also for an error. Runs the built CLI (npm test builds first).
const run = (args: string[]) =>
  execa('node', ['bin/run.js', ...args], { cwd: projectRoot(), reject: false, env: { NODE_ENV: 'test' } });

let config: Config;
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
    expect(config.commands.length).toBeGreaterThanOrEqual(8);
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
});
