// The parts' side of the secrets: GZS and the DAL refuse a development default off loopback, before listening.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkDalSecrets } from '../../src/dal/index.js';
import { checkGzsSecrets, DEV_TOKEN, GzsServer, startGzs } from '../../src/gzs/index.js';
import { FileStore } from '../../src/gzs/store.js';
import { loadTopology } from '../../src/topology/index.js';

const topology = loadTopology();
const DEFAULT_SECRET = expect.objectContaining({ code: 'EZ_DEFAULT_SECRET', exitCode: 1 });

describe('GZS: checkGzsSecrets', () => {
  it('refuses the development token beyond loopback, naming the token and EZ_GZS_TOKEN', () => {
    expect(() => checkGzsSecrets({ host: '10.231.0.1', tokenIsDefault: true })).toThrow(DEFAULT_SECRET);
    expect(() => checkGzsSecrets({ host: '0.0.0.0', tokenIsDefault: true })).toThrow(
      `GZS: refusing to listen on 0.0.0.0 with the development token (${DEV_TOKEN}): set EZ_GZS_TOKEN`,
    );
  });

  it('lets the development token on loopback, and any other token anywhere', () => {
    expect(() => checkGzsSecrets({ host: '127.0.0.1', tokenIsDefault: true })).not.toThrow();
    expect(() => checkGzsSecrets({ host: 'localhost', tokenIsDefault: true })).not.toThrow();
    expect(() => checkGzsSecrets({ host: '0.0.0.0', tokenIsDefault: false })).not.toThrow();
  });

  it('is what GzsServer.start() and startGzs decide, before the store is opened', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ez-gzs-secret-'));
    const table = join(dir, 'table.json');
    const server = new GzsServer({
      topology,
      store: new FileStore(table),
      host: '0.0.0.0',
      port: 0,
      token: DEV_TOKEN,
    });
    expect(server.tokenIsDefault).toBe(true);
    await expect(server.start()).rejects.toThrow(DEFAULT_SECRET);
    await expect(
      startGzs({ topology, host: '0.0.0.0', port: 0, store: `file:${table}`, token: DEV_TOKEN }),
    ).rejects.toThrow(DEFAULT_SECRET);
    // nothing opened: no table written, no store lock left
    expect(existsSync(table)).toBe(false);
    expect(existsSync(`${table}.lock`)).toBe(false);
  });
});

describe('DAL: checkDalSecrets', () => {
  it("refuses the app account's development password beyond loopback", () => {
    expect(() => checkDalSecrets({ host: '10.231.0.2', env: {} })).toThrow(DEFAULT_SECRET);
    expect(() => checkDalSecrets({ host: '0.0.0.0', env: {} })).toThrow(
      'DAL: refusing to listen on 0.0.0.0 with the development password of MySQL account ezapp: set EZ_MYSQL_EZAPP_PASSWORD',
    );
    // set to the development value is still the development value
    expect(() => checkDalSecrets({ host: '0.0.0.0', env: { EZ_MYSQL_EZAPP_PASSWORD: 'ezapp-dev' } })).toThrow(
      DEFAULT_SECRET,
    );
  });

  it('lets it on loopback, and a real password anywhere', () => {
    expect(() => checkDalSecrets({ host: '127.0.0.1', env: {} })).not.toThrow();
    expect(() => checkDalSecrets({ host: '::1', env: {} })).not.toThrow();
    expect(() =>
      checkDalSecrets({ host: '0.0.0.0', env: { EZ_MYSQL_EZAPP_PASSWORD: 'a-real-one' } }),
    ).not.toThrow();
    // only the app account counts: the DAL holds no other
    expect(() =>
      checkDalSecrets({
        host: '0.0.0.0',
        env: { EZ_MYSQL_EZAPP_PASSWORD: 'a-real-one', EZ_MYSQL_DRC_READER_PASSWORD: 'drc-reader-dev' },
      }),
    ).not.toThrow();
  });
});
