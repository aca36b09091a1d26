// A cluster's secrets (src/shared/secrets.ts): the file, its mode, the env it gives, the refusal rule.
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasDevPassword } from '../../src/shared/mysql-accounts.js';
import {
  applySecretsEnv,
  ensureClusterSecrets,
  isLoopback,
  readClusterSecrets,
  redisPassword,
  refuseDefaultSecret,
  secretsEnv,
  secretsFile,
} from '../../src/shared/secrets.js';

const scratch = (): string => mkdtempSync(join(tmpdir(), 'ez-secrets-'));
const mode = (p: string): number => statSync(p).mode & 0o777;

describe('ensureClusterSecrets', () => {
  it('generates every secret into <cluster>/secrets.json, mode 0600, in a 0700 directory', () => {
    const dir = join(scratch(), 'state', 'two-zones');
    const s = ensureClusterSecrets(dir);
    expect(mode(secretsFile(dir))).toBe(0o600);
    expect(mode(dir)).toBe(0o700);
    expect(Object.keys(s.mysql).sort()).toEqual(['drc_applier', 'drc_reader', 'ezapp', 'root']);
    const all = [s.gzsToken, s.redis, ...Object.values(s.mysql)];
    for (const v of all) {
      expect(v).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(Buffer.from(v, 'base64url').length).toBeGreaterThanOrEqual(24);
    }
    expect(new Set(all).size).toBe(all.length);
    expect(s.version).toBe(1);
    expect(Number.isNaN(Date.parse(s.createdAt))).toBe(false);
    expect(JSON.parse(readFileSync(secretsFile(dir), 'utf8'))).toEqual(s);
  });

  it('reads the file when present instead of generating again, and narrows a wider mode to 0600', () => {
    const dir = scratch();
    const first = ensureClusterSecrets(dir);
    const before = readFileSync(secretsFile(dir), 'utf8');
    expect(ensureClusterSecrets(dir)).toEqual(first);
    chmodSync(secretsFile(dir), 0o644);
    expect(ensureClusterSecrets(dir)).toEqual(first);
    expect(mode(secretsFile(dir))).toBe(0o600);
    expect(readFileSync(secretsFile(dir), 'utf8')).toBe(before);
  });
});

describe('readClusterSecrets', () => {
  it('answers undefined when there is no file', () => {
    expect(readClusterSecrets(scratch())).toBeUndefined();
  });

  it('names the file of a bad one (EZ_SECRETS), and ensureClusterSecrets never overwrites it', () => {
    const dir = scratch();
    const file = secretsFile(dir);
    writeFileSync(file, '{not json', { mode: 0o600 });
    expect(() => readClusterSecrets(dir)).toThrow(expect.objectContaining({ code: 'EZ_SECRETS' }));
    expect(() => readClusterSecrets(dir)).toThrow(`${file}: not JSON`);
    expect(() => ensureClusterSecrets(dir)).toThrow(/EZ_SECRETS|not JSON/);
    expect(readFileSync(file, 'utf8')).toBe('{not json');

    const good = ensureClusterSecrets(scratch());
    const { drc_reader: _, ...lacking } = good.mysql;
    writeFileSync(file, JSON.stringify({ ...good, mysql: lacking }));
    expect(() => readClusterSecrets(dir)).toThrow(`${file}: not a secrets file: mysql.drc_reader:`);
    writeFileSync(file, JSON.stringify({ ...good, gzsToken: '' }));
    expect(() => readClusterSecrets(dir)).toThrow(/gzsToken: expected a non-empty string/);
    writeFileSync(file, JSON.stringify({ ...good, version: 2 }));
    expect(() => readClusterSecrets(dir)).toThrow(/version: expected version 1/);
    writeFileSync(file, '[]');
    expect(() => readClusterSecrets(dir)).toThrow(/not a secrets file/);
  });
});

describe('secretsEnv and applySecretsEnv', () => {
  const s = ensureClusterSecrets(scratch());

  it('gives every secret its variable', () => {
    expect(secretsEnv(s)).toEqual({
      EZ_GZS_TOKEN: s.gzsToken,
      EZ_MYSQL_ROOT_PASSWORD: s.mysql.root,
      EZ_MYSQL_EZAPP_PASSWORD: s.mysql.ezapp,
      EZ_MYSQL_DRC_READER_PASSWORD: s.mysql.drc_reader,
      EZ_MYSQL_DRC_APPLIER_PASSWORD: s.mysql.drc_applier,
      EZ_REDIS_PASSWORD: s.redis,
    });
  });

  it('sets only unset variables, and replaces only what it set itself', () => {
    const env: NodeJS.ProcessEnv = { EZ_GZS_TOKEN: 'exported' };
    const set = applySecretsEnv(s, env);
    expect(set).not.toContain('EZ_GZS_TOKEN');
    expect(env.EZ_GZS_TOKEN).toBe('exported');
    expect(env.EZ_MYSQL_EZAPP_PASSWORD).toBe(s.mysql.ezapp);
    expect(hasDevPassword('app', env)).toBe(false);
    // another cluster's secrets later (a drill on another topology): ours are replaced, the user's kept
    const other = ensureClusterSecrets(scratch());
    env.EZ_REDIS_PASSWORD = 'changed-by-the-user';
    applySecretsEnv(other, env);
    expect(env.EZ_MYSQL_EZAPP_PASSWORD).toBe(other.mysql.ezapp);
    expect(env.EZ_REDIS_PASSWORD).toBe('changed-by-the-user');
    expect(env.EZ_GZS_TOKEN).toBe('exported');
  });
});

describe('isLoopback', () => {
  it.each([
    '127.0.0.1',
    '127.1.2.3',
    '127.255.255.254',
    '::1',
    '[::1]',
    '0:0:0:0:0:0:0:1',
    '::ffff:127.0.0.1',
    'localhost',
    'LOCALHOST',
  ])('%s is loopback', (h) => expect(isLoopback(h)).toBe(true));

  it.each([
    '0.0.0.0',
    '::',
    '',
    '10.231.0.1',
    '128.0.0.1',
    '1.127.0.0',
    '127.0.0.256',
    '::2',
    '::ffff:10.0.0.1',
    'localhost.example.com',
    'example.com',
    '127.0.0.1.nip.io',
  ])('%s is not', (h) => expect(isLoopback(h)).toBe(false));
});

describe('refuseDefaultSecret', () => {
  const o = {
    part: 'GZS',
    what: 'the development token (ezctl-dev-token)',
    env: 'EZ_GZS_TOKEN',
  };

  it('refuses a default beyond loopback, with one line naming the address and what to set', () => {
    let err: unknown;
    try {
      refuseDefaultSecret({ ...o, bindHost: '10.231.0.1', isDefault: true });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({
      code: 'EZ_DEFAULT_SECRET',
      exitCode: 1,
      message:
        'GZS: refusing to listen on 10.231.0.1 with the development token (ezctl-dev-token): set EZ_GZS_TOKEN (ezctl up generates one per cluster in <state>/<cluster>/secrets.json)',
    });
    expect(() => refuseDefaultSecret({ ...o, bindHost: '0.0.0.0', isDefault: true })).toThrow(/0\.0\.0\.0/);
  });

  it('lets a default on loopback, and a real secret anywhere', () => {
    expect(() => refuseDefaultSecret({ ...o, bindHost: '127.0.0.1', isDefault: true })).not.toThrow();
    expect(() => refuseDefaultSecret({ ...o, bindHost: '::1', isDefault: true })).not.toThrow();
    expect(() => refuseDefaultSecret({ ...o, bindHost: '0.0.0.0', isDefault: false })).not.toThrow();
  });
});

describe('redisPassword', () => {
  it('is EZ_REDIS_PASSWORD, else none', () => {
    expect(redisPassword({ EZ_REDIS_PASSWORD: 'p' })).toBe('p');
    expect(redisPassword({})).toBeUndefined();
    expect(redisPassword({ EZ_REDIS_PASSWORD: '' })).toBeUndefined();
  });
});
