/**
 * The built parts refuse a development secret beyond loopback: `node dist/src/gzs/main.js --host
 * 0.0.0.0` without EZ_GZS_TOKEN exits 1 with one line (EZ_DEFAULT_SECRET) and with it starts; the
 * DAL likewise without EZ_MYSQL_EZAPP_PASSWORD (refused before it connects to anything). And the
 * built CLI authenticates with its cluster's secrets.json, nothing exported. Needs the build
 * (`npx tsc -p .`; npm test builds first).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { startNodePart } from '../../src/launch/index.js';
import { ensureClusterSecrets } from '../../src/shared/secrets.js';
import { projectRoot } from '../../src/util/paths.js';
import { tempDir } from '../helpers/run-dir.js';

/** This process's environment without the variables that would set a real secret. */
function envWithout(...names: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !names.includes(k)) env[k] = v;
  return { ...env, EZCTL_TOPOLOGY: '', NODE_NO_WARNINGS: '1' };
}

const part = (entry: string, args: string[], env: Record<string, string>) =>
  execa(process.execPath, [join(projectRoot(), 'dist', entry), ...args], {
    cwd: projectRoot(),
    reject: false,
    extendEnv: false,
    env,
    timeout: 20_000,
  });

describe('GZS beyond loopback', () => {
  it('refuses to start with the development token, before opening its store', async () => {
    const dir = tempDir('gzs-secret');
    const table = join(dir, 'table.json');
    const r = await part(
      'src/gzs/main.js',
      ['--host', '0.0.0.0', '--port', '0', '--store', `file:${table}`],
      envWithout('EZ_GZS_TOKEN'),
    );
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim()).toBe(
      'gzs: EZ_DEFAULT_SECRET: GZS: refusing to listen on 0.0.0.0 with the development token (ezctl-dev-token): set EZ_GZS_TOKEN (ezctl up generates one per cluster in <state>/<cluster>/secrets.json)',
    );
    // the same line in its JSON log
    expect(r.stdout).toMatch(/"msg":"start failed"/);
    expect(r.stdout).toMatch(/refusing to listen on 0\.0\.0\.0/);
    expect(existsSync(table)).toBe(false);
  });

  it('starts with EZ_GZS_TOKEN set, and the change API takes that token', async () => {
    const dir = tempDir('gzs-secret');
    const token = randomBytes(24).toString('base64url');
    const gzs = await startNodePart({
      name: 'GZS',
      entry: 'src/gzs/main.js',
      args: (port) => [
        '--host',
        '0.0.0.0',
        '--port',
        String(port),
        '--store',
        `file:${join(dir, 'table.json')}`,
      ],
      logFile: join(dir, 'gzs.log'),
      env: { EZ_GZS_TOKEN: token },
      graceMs: 10_000,
    });
    try {
      const change = (bearer: string) =>
        fetch(`${gzs.url}/zones/ez-sh/state`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
          body: JSON.stringify({ state: 'active' }),
        });
      expect((await change('ezctl-dev-token')).status).toBe(401);
      expect((await change(token)).status).toBeLessThan(300);
    } finally {
      await gzs.stop();
    }
  });

  it('starts with the development token on loopback, as before', async () => {
    const dir = tempDir('gzs-secret');
    const gzs = await startNodePart({
      name: 'GZS',
      entry: 'src/gzs/main.js',
      args: (port) => [
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--store',
        `file:${join(dir, 'table.json')}`,
      ],
      logFile: join(dir, 'gzs.log'),
      env: { EZ_GZS_TOKEN: 'ezctl-dev-token' },
      graceMs: 10_000,
    });
    await gzs.stop();
  });
});

describe('DAL beyond loopback', () => {
  it("refuses to start with the app account's development password", async () => {
    const r = await part(
      'src/dal/main.js',
      ['--zone', 'ez-bj', '--host', '0.0.0.0', '--static'],
      envWithout('EZ_MYSQL_EZAPP_PASSWORD'),
    );
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim()).toBe(
      'dal: EZ_DEFAULT_SECRET: DAL: refusing to listen on 0.0.0.0 with the development password of MySQL account ezapp: set EZ_MYSQL_EZAPP_PASSWORD (ezctl up generates one per cluster in <state>/<cluster>/secrets.json)',
    );
  });
});

describe("ezctl and its cluster's secrets.json", () => {
  it('authenticates to GZS with the token in <state>/<cluster>/secrets.json, an exported one winning', async () => {
    const stateDir = tempDir('cli-secrets');
    const secrets = ensureClusterSecrets(join(stateDir, 'two-zones'));
    const gzs = await startNodePart({
      name: 'GZS',
      entry: 'src/gzs/main.js',
      args: (port) => ['--port', String(port), '--store', `file:${join(stateDir, 'table.json')}`],
      logFile: join(stateDir, 'gzs.log'),
      env: { EZ_GZS_TOKEN: secrets.gzsToken },
      graceMs: 10_000,
    });
    const ezctl = (home: string, env: Record<string, string> = {}) =>
      execa(
        process.execPath,
        [join(projectRoot(), 'bin/run.js'), 'gzs', 'zone', 'ez-sh', 'active', '--gzs', gzs.url, '--json'],
        {
          cwd: projectRoot(),
          reject: false,
          extendEnv: false,
          env: {
            ...envWithout('EZ_GZS_TOKEN', 'EZCTL_HOME'),
            NODE_ENV: 'production',
            EZCTL_HOME: home,
            ...env,
          },
        },
      );
    try {
      const ok = await ezctl(stateDir);
      expect(ok.stderr).toBe('');
      expect(ok.exitCode).toBe(0);
      // the same command with a state dir without secrets: the development token, refused
      const other = await ezctl(tempDir('cli-secrets'));
      expect(other.exitCode).toBe(1);
      expect(JSON.parse(other.stdout).error.code).toBe('EZ_UNAUTHORIZED');
      // what the user exported wins over the file
      const exported = await ezctl(stateDir, { EZ_GZS_TOKEN: 'exported-and-wrong' });
      expect(exported.exitCode).toBe(1);
      expect(JSON.parse(exported.stdout).error.code).toBe('EZ_UNAUTHORIZED');
    } finally {
      await gzs.stop();
    }
  });
});
