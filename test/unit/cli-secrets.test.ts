// How an ezctl command finds its cluster's secrets (src/cli/cluster-secrets.ts): argv, topology name, applying them.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyCommandSecrets, commandCluster, topologyName } from '../../src/cli/cluster-secrets.js';
import { resolveStateDir } from '../../src/launch/state.js';
import { ensureClusterSecrets, secretsFile } from '../../src/shared/secrets.js';
import { loadTopology } from '../../src/topology/index.js';
import { defaultTopologyPath, fixturesDir } from '../../src/util/paths.js';

const scratch = (): string => mkdtempSync(join(tmpdir(), 'ez-cli-secrets-'));
const threeZones = join(fixturesDir(), 'topologies', 'three-zones.yaml');

describe('commandCluster', () => {
  const topo = (argv: string[], env: NodeJS.ProcessEnv = {}) => commandCluster(argv, env)?.topologyFile;
  const state = (argv: string[], env: NodeJS.ProcessEnv = {}) => commandCluster(argv, env)?.stateDir;

  it('reads --topology in every spelling oclif takes, the last one winning', () => {
    for (const argv of [
      ['--topology', 'a.yaml'],
      ['--topology=a.yaml'],
      ['-t', 'a.yaml'],
      ['-ta.yaml'],
      ['-t=a.yaml'],
      ['ez-bj', 'down', '--json', '--topology', 'a.yaml'],
      ['--topology', 'b.yaml', '-t', 'a.yaml'],
    ])
      expect(topo(argv), argv.join(' ')).toBe(resolve('a.yaml'));
  });

  it('falls back to EZCTL_TOPOLOGY, then the embedded default (an empty variable is unset)', () => {
    expect(topo([], { EZCTL_TOPOLOGY: 'env.yaml' })).toBe(resolve('env.yaml'));
    expect(topo(['-t', 'a.yaml'], { EZCTL_TOPOLOGY: 'env.yaml' })).toBe(resolve('a.yaml'));
    expect(topo([], { EZCTL_TOPOLOGY: '' })).toBe(defaultTopologyPath());
    expect(topo([])).toBe(defaultTopologyPath());
  });

  it('reads --state-dir, else EZCTL_HOME, else ./.ezctl, as resolveStateDir does', () => {
    expect(state(['--state-dir', '/x/s'])).toBe('/x/s');
    expect(state(['--state-dir=/x/s'])).toBe('/x/s');
    expect(state(['--state-dir', '/x/s'], { EZCTL_HOME: '/y' })).toBe('/x/s');
    for (const env of [{ EZCTL_HOME: '/y' }, { EZCTL_HOME: '' }, {}]) {
      expect(state([], env)).toBe(resolveStateDir(undefined, env));
      expect(state(['--state-dir', 'rel'], env)).toBe(resolveStateDir('rel', env));
    }
  });

  it('ignores what follows --, and gives up on a flag without a value', () => {
    expect(topo(['--', '--topology', 'a.yaml'])).toBe(defaultTopologyPath());
    expect(commandCluster(['--topology'], {})).toBeUndefined();
    expect(commandCluster(['--state-dir'], {})).toBeUndefined();
    expect(commandCluster(['--topology='], {})).toBeUndefined();
    // other flags and their values are not mistaken for ours
    expect(topo(['--timeout', '5s', '--to', 'ez-sh', '-j'])).toBe(defaultTopologyPath());
  });
});

describe('topologyName', () => {
  it('is the name loadTopology gives, reading only the top-level name', async () => {
    expect(await topologyName(defaultTopologyPath())).toBe(loadTopology().name);
    expect(await topologyName(threeZones)).toBe(loadTopology(threeZones).name);
  });

  it("falls back to the file's base name, as loadTopology does", async () => {
    const dir = scratch();
    writeFileSync(join(dir, 'lab.yaml'), 'database: ezshop\nzones: []\n');
    expect(await topologyName(join(dir, 'lab.yaml'))).toBe('lab');
    writeFileSync(join(dir, 'lab2.yml'), '# nothing\n');
    expect(await topologyName(join(dir, 'lab2.yml'))).toBe('lab2');
  });

  it('answers nothing for a file it cannot use (the command reports it)', async () => {
    const dir = scratch();
    const file = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    expect(await topologyName(join(dir, 'missing.yaml'))).toBeUndefined();
    expect(await topologyName(file('bad.yaml', 'name: [unclosed\n'))).toBeUndefined();
    expect(await topologyName(file('dup.yaml', 'name: a\nname: b\n'))).toBeUndefined();
    expect(await topologyName(file('traversal.yaml', 'name: ../../etc\n'))).toBeUndefined();
    expect(await topologyName(file('upper.yaml', 'name: Two\n'))).toBeUndefined();
    expect(await topologyName(file('num.yaml', 'name: 7\n'))).toBeUndefined();
    expect(await topologyName(dir)).toBeUndefined();
    // a nested `name` is not the cluster's
    expect(await topologyName(file('nested.yaml', 'zones:\n  - name: x\n'))).toBe('nested');
  });
});

describe('applyCommandSecrets', () => {
  const cluster = () => {
    const stateDir = scratch();
    const secrets = ensureClusterSecrets(join(stateDir, 'two-zones'));
    return { stateDir, secrets };
  };

  it("sets the command's cluster's secrets where not exported, from --state-dir or EZCTL_HOME", async () => {
    const { stateDir, secrets } = cluster();
    const env: NodeJS.ProcessEnv = { EZ_MYSQL_ROOT_PASSWORD: 'exported' };
    const r = await applyCommandSecrets(['ez-bj', 'down', '--state-dir', stateDir], env);
    expect(r?.file).toBe(secretsFile(join(stateDir, 'two-zones')));
    expect(r?.applied).not.toContain('EZ_MYSQL_ROOT_PASSWORD');
    expect(env).toMatchObject({
      EZ_GZS_TOKEN: secrets.gzsToken,
      EZ_MYSQL_ROOT_PASSWORD: 'exported',
      EZ_MYSQL_EZAPP_PASSWORD: secrets.mysql.ezapp,
      EZ_MYSQL_DRC_READER_PASSWORD: secrets.mysql.drc_reader,
      EZ_MYSQL_DRC_APPLIER_PASSWORD: secrets.mysql.drc_applier,
      EZ_REDIS_PASSWORD: secrets.redis,
    });
    const viaHome: NodeJS.ProcessEnv = { EZCTL_HOME: stateDir };
    await applyCommandSecrets([], viaHome);
    expect(viaHome.EZ_GZS_TOKEN).toBe(secrets.gzsToken);
  });

  it('leaves the environment alone for another cluster, no state dir, or a topology it cannot read', async () => {
    const { stateDir } = cluster();
    for (const argv of [
      ['-t', threeZones, '--state-dir', stateDir],
      ['--state-dir', join(stateDir, 'nowhere')],
      ['--state-dir', scratch()],
      ['-t', join(stateDir, 'missing.yaml'), '--state-dir', stateDir],
      ['--topology'],
    ]) {
      const env: NodeJS.ProcessEnv = {};
      expect(await applyCommandSecrets(argv, env), argv.join(' ')).toBeUndefined();
      expect(env, argv.join(' ')).toEqual({});
    }
  });

  it('warns in one line about a secrets file it cannot use, and never throws', async () => {
    const stateDir = scratch();
    mkdirSync(join(stateDir, 'two-zones'));
    writeFileSync(secretsFile(join(stateDir, 'two-zones')), '{"version":1}');
    const lines: string[] = [];
    const env: NodeJS.ProcessEnv = {};
    expect(await applyCommandSecrets(['--state-dir', stateDir], env, (l) => lines.push(l))).toBeUndefined();
    expect(env).toEqual({});
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^ezctl: warning: .*secrets\.json: not a secrets file: gzsToken: .*\(running without/,
    );
  });
});
