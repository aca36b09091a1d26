// The MariaDB kind's prepare, one shell script (one ssh round trip on a remote host): it reuses an
// initialized datadir, refuses a non-empty one without system tables, and initializes an empty one.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalHost } from '../../src/launch/host.js';
import { mariadb, mariadbSpec } from '../../src/launch/kinds/mariadb.js';
import { tempDir } from '../helpers/run-dir.js';

const host = new LocalHost();
const spec = (dir: string) =>
  mariadbSpec({ zone: 'ez-test', port: 1, dataDir: dir, serverId: 1, database: 'ezshop' });

describe('mariadb prepare', () => {
  it('refuses a non-empty datadir without system tables and leaves it as it was', async () => {
    const dir = tempDir('mdb-prep-');
    mkdirSync(join(dir, 'data'), { recursive: true });
    writeFileSync(join(dir, 'data', 'ibdata1'), 'partial');
    await expect(mariadb.prepare(spec(dir), host)).rejects.toMatchObject({
      code: 'EZ_BAD_DATADIR',
      message: expect.stringMatching(/data is not empty but has no system tables.*ezctl down --purge/),
    });
    expect(readdirSync(join(dir, 'data'))).toEqual(['ibdata1']);
  });

  it('reuses an initialized datadir without touching it, and makes the tmpdir', async () => {
    const dir = tempDir('mdb-prep-');
    mkdirSync(join(dir, 'data', 'mysql'), { recursive: true });
    writeFileSync(join(dir, 'data', 'keep'), 'x');
    await mariadb.prepare(spec(dir), host);
    expect(readdirSync(join(dir, 'data')).sort()).toEqual(['keep', 'mysql']);
    expect(existsSync(join(dir, 'tmp'))).toBe(true);
  });

  it('initializes an empty datadir with mariadb-install-db', async () => {
    const dir = tempDir('mdb-prep-');
    await mariadb.prepare(spec(dir), host);
    expect(
      existsSync(join(dir, 'data', 'mysql', 'user.frm')) ||
        existsSync(join(dir, 'data', 'mysql', 'global_priv.frm')),
    ).toBe(true);
  }, 120_000);
});
