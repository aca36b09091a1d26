// The launcher's pure logic: phases, kind selection, bootstrap SQL, state, formats.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDuration, WATCH_INTERVAL } from '../../src/cli/flags.js';
import { formatDuration, formatProgress } from '../../src/launch/format.js';
import { parseStartToken } from '../../src/launch/host.js';
import { phases, selectKinds } from '../../src/launch/kinds/index.js';
import { bootstrapSql, socketPathFor } from '../../src/launch/kinds/mariadb.js';
import type { ProcessKind } from '../../src/launch/kinds/types.js';
import { lockCluster, readState, resolveStateDir } from '../../src/launch/state.js';
import { mysqlAccount, passwordEnvVar } from '../../src/shared/mysql-accounts.js';
import { table } from '../../src/util/table.js';

const fakeKind = (kind: string, after: string[] = []): ProcessKind =>
  ({ kind, after, readyTimeoutMs: 1 }) as unknown as ProcessKind;

describe('process kinds', () => {
  it('orders kinds in phases after the kinds they need, and ignores kinds not selected', () => {
    const names = (ks: ProcessKind[][]) => ks.map((p) => p.map((k) => k.kind));
    const ks = [
      fakeKind('app', ['dal', 'redis']),
      fakeKind('mariadb'),
      fakeKind('dal', ['mariadb', 'gzs']),
      fakeKind('redis'),
      fakeKind('gzs', ['zookeeper']),
    ];
    expect(names(phases(ks))).toEqual([['mariadb', 'redis', 'gzs'], ['dal'], ['app']]);
    expect(() => phases([fakeKind('a', ['b']), fakeKind('b', ['a'])])).toThrow(/cycle/);
  });

  it('starts optional kinds only when asked, with clear errors for bad --with', () => {
    const always = [
      'links',
      'mariadb',
      'redis',
      'gzs',
      'drc',
      'invalidator',
      'dal',
      'orders',
      'soa',
      'router',
    ];
    expect(selectKinds().map((k) => k.kind)).toEqual(always);
    expect(selectKinds(['zookeeper']).map((k) => k.kind)).toEqual([
      'links',
      'mariadb',
      'redis',
      'zookeeper',
      ...always.slice(3),
    ]);
    expect(selectKinds([], ['redis', 'mariadb']).map((k) => k.kind)).toEqual(['mariadb', 'redis']);
    expect(() => selectKinds([], ['mysql'])).toThrow(/--only mysql: unknown process kind/);
    expect(() => selectKinds(['kafka'])).toThrow(
      '--with kafka: unknown process kind (known: links, mariadb, redis, zookeeper, gzs, drc, invalidator, dal, orders, soa, router)',
    );
    expect(() => selectKinds(['redis'])).toThrow(/redis always starts/);
  });
});

describe('mariadb kind', () => {
  const accounts = {
    root: mysqlAccount('root', {}),
    app: mysqlAccount('app', {}),
    reader: mysqlAccount('reader', {}),
    applier: mysqlAccount('applier', {}),
  };

  it('bootstraps out of the binlog, with the grants each account needs', () => {
    const sql = bootstrapSql('ezshop', 'CREATE TABLE t (id INT PRIMARY KEY);', accounts);
    const lines = sql.trim().split('\n');
    expect(lines[0]).toBe('SET SESSION sql_log_bin=0;');
    // root keeps only root@localhost (the socket): the others are found and dropped in the script
    expect(sql).toMatch(/WHERE User='root' AND Host<>'localhost'[\s\S]*EXECUTE IMMEDIATE[^;]*DROP USER/);
    expect(sql).toContain('CREATE TABLE t (id INT PRIMARY KEY);');
    expect(sql).toContain(
      "GRANT SELECT, INSERT, UPDATE, DELETE ON `ezshop`.* TO 'ezapp'@'127.0.0.1', 'ezapp'@'localhost';",
    );
    expect(sql).toContain("GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'drc_reader'@'127.0.0.1'");
    expect(sql).toContain("GRANT SELECT ON `ezshop`.* TO 'drc_reader'");
    expect(sql).toContain(
      "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP ON `ezshop`.* TO 'drc_applier'",
    );
    expect(sql).toContain("GRANT BINLOG REPLAY, BINLOG ADMIN ON *.* TO 'drc_applier'");
    expect(sql).toMatch(
      /CREATE USER IF NOT EXISTS 'drc_reader'@'localhost' IDENTIFIED VIA mysql_native_password/,
    );
    expect(sql).not.toContain("'root'@'localhost' IDENTIFIED"); // no root password configured
  });

  it('escapes passwords and applies a configured root password', () => {
    const env = { EZ_MYSQL_EZAPP_PASSWORD: "it's\\secret", EZ_MYSQL_ROOT_PASSWORD: 'r00t' };
    const sql = bootstrapSql('ezshop', '', {
      root: mysqlAccount('root', env),
      app: mysqlAccount('app', env),
      reader: mysqlAccount('reader', env),
      applier: mysqlAccount('applier', env),
    });
    expect(sql).toContain("USING PASSWORD('it\\'s\\\\secret')");
    expect(sql).toContain(
      "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('r00t');",
    );
  });

  it('keeps the unix socket path short enough for the kernel', () => {
    expect(socketPathFor('/tmp/x/ez-bj/mariadb')).toBe('/tmp/x/ez-bj/mariadb/mysqld.sock');
    const deep = `/${'d'.repeat(120)}/ez-bj/mariadb`;
    const s = socketPathFor(deep);
    expect(s).toMatch(/^\/tmp\/ezctl-[0-9a-f]{16}\.sock$/);
    expect(socketPathFor(deep)).toBe(s); // stable
  });
});

describe('credentials', () => {
  it('takes passwords from EZ_MYSQL_<USER>_PASSWORD, else the development default', () => {
    expect(passwordEnvVar('drc_reader')).toBe('EZ_MYSQL_DRC_READER_PASSWORD');
    expect(mysqlAccount('reader', {}).password).toBe('drc-reader-dev');
    expect(mysqlAccount('reader', { EZ_MYSQL_DRC_READER_PASSWORD: 'prod' }).password).toBe('prod');
    expect(mysqlAccount('app', {}).user).toBe('ezapp');
  });
});

describe('process liveness from /proc/<pid>/stat', () => {
  // fields from 3 on: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
  // stime cutime cstime priority nice num_threads itrealvalue starttime …
  const stat = (state: string, threads: number) =>
    `4242 (node (main)) ${state} 1 4242 4242 0 -1 4194560 10 0 0 0 5 2 0 0 20 0 ${threads} 0 987654 1000 200`;

  it('takes the start time (field 22) and the boot id as the token', () => {
    expect(parseStartToken(stat('S', 11), 'b00t\n')).toEqual({ token: 'b00t:987654', zombie: false });
  });

  it('counts a killed process as gone only once its last thread has exited', () => {
    // the leader is Z while the other threads still exit (and hold its sockets)
    expect(parseStartToken(stat('Z', 6), 'b').zombie).toBe(false);
    expect(parseStartToken(stat('Z', 2), 'b').zombie).toBe(false);
    expect(parseStartToken(stat('Z', 1), 'b').zombie).toBe(true);
    expect(parseStartToken(stat('R', 1), 'b').zombie).toBe(false);
  });
});

describe('state', () => {
  it('resolves the state dir: flag, then EZCTL_HOME, then ./.ezctl', () => {
    expect(resolveStateDir('/s', { EZCTL_HOME: '/h' })).toBe('/s');
    expect(resolveStateDir(undefined, { EZCTL_HOME: '/h' })).toBe('/h');
    expect(resolveStateDir(undefined, {})).toBe(join(process.cwd(), '.ezctl'));
  });

  it('reads a missing state as empty and names a corrupt one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ezu-'));
    expect(readState(dir, 'c').processes).toEqual({});
    const f = join(dir, 'c', 'state.json');
    lockCluster(dir, 'c')(); // creates the dir
    writeFileSync(f, '{"version":1,');
    expect(() => readState(dir, 'c')).toThrow(`${f}: not valid JSON`);
    writeFileSync(f, '{"hello":1}');
    expect(() => readState(dir, 'c')).toThrow(/not an ezctl state file/);
  });

  it('lets one up/down at a time hold a cluster, and takes over a stale lock', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ezu-'));
    const release = lockCluster(dir, 'c');
    expect(() => lockCluster(dir, 'c')).toThrow(/cluster "c" is busy: another ezctl \(pid \d+\)/);
    release();
    writeFileSync(join(dir, 'c', 'lock'), '999999999'); // no such pid
    lockCluster(dir, 'c')();
  });
});

describe('formatting', () => {
  it('parses durations for --interval', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('2m')).toBe(120_000);
    // one meaning of a bare number everywhere: milliseconds
    expect(parseDuration('3')).toBe(3);
    expect(parseDuration(250)).toBe(250);
    expect(() => parseDuration('soon', '--interval')).toThrow('--interval: "soon" is not a duration');
    expect(() => parseDuration('0s', '--interval')).toThrow(/out of range/);
    // a watch interval past node's 32-bit timer was accepted and fired at once
    expect(() => parseDuration('40000m', '--interval', WATCH_INTERVAL)).toThrow(
      '--interval: "40000m" is out of range (expected 100 ms to 1 h)',
    );
  });

  it('prints tables, uptimes and progress lines with log tails', () => {
    expect(table(['A', 'BB'], [['xxx', 'y']])).toBe('A    BB\nxxx  y');
    expect([59, 61, 3700, 90_000, null].map(formatDuration)).toEqual(['59s', '1m01s', '1h01m', '1d01h', '-']);
    const line = formatProgress({
      type: 'failed',
      name: 'mariadb@ez-bj',
      kind: 'mariadb',
      zone: 'ez-bj',
      port: 27200,
      message: 'exited during start',
      logTail: 'a\nb',
    });
    expect(line).toBe('FAILED    mariadb@ez-bj     port 27200  exited during start\n    | a\n    | b');
  });
});
