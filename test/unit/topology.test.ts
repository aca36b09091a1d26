import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  controlGzsUrl,
  directAddress,
  leavesLoopback,
  loadTopology,
  parseTopology,
  partAddress,
  reach,
  rttBetween,
  TopologyError,
} from '../../src/topology/index.js';
import { readInputFile } from '../../src/util/input-file.js';
import { parseJsonText } from '../../src/util/json-text.js';
import { fixturesDir, projectRoot } from '../../src/util/paths.js';
import { quote } from '../../src/util/validation.js';

const square = (x: number, y: number, shard: number) => ({
  type: 'Feature',
  properties: { shard, name: `sq${shard}` },
  geometry: {
    type: 'Polygon',
    coordinates: [
      [
        [x, y],
        [x + 1, y],
        [x + 1, y + 1],
        [x, y + 1],
        [x, y],
      ],
    ],
  },
});

const BASE = `
name: tiny
zones:
  - id: ez-a
  - id: ez-b
globalZone: { master: ez-a }
fences: fences.geojson
shards:
  - { id: 0, zone: ez-a }
  - { range: "1-2", zone: ez-b }
keys:
  merchant: { m-1: 2 }
tables:
  - { name: orders, kind: sharded, shardColumn: shard_id, cacheKey: "order:{id}" }
  - { name: users, kind: global }
deployment:
  gzs: { port: 30100 }
  router: { port: 30080 }
  zones:
    ez-a: { portBase: 30200 }
    ez-b: { portBase: 30300 }
`;

/** BASE with a third eZone (replicators into an eZone take drc, drc+1, ...: one port per other eZone). */
const THREE = BASE.replace('  - id: ez-b\n', '  - id: ez-b\n  - id: ez-c\n').replace(
  '    ez-b: { portBase: 30300 }\n',
  '    ez-b: { portBase: 30300 }\n    ez-c: { portBase: 30400 }\n',
);

/** Nine levels of nine aliases: 9^9 strings once expanded ("billion laughs"). */
const BILLION_LAUGHS = [
  'lol0: &l0 lol',
  ...Array.from({ length: 9 }, (_, k) => `lol${k + 1}: &l${k + 1} [${Array(9).fill(`*l${k}`).join(', ')}]`),
].join('\n');

/** A schema that exercises the CREATE TABLE scan: quoting, comments, DELIMITER, clauses that are not columns. */
const CUSTOM_SQL = `-- CREATE TABLE in_comment (x INT);
# CREATE TABLE in_hash_comment (x INT);
/* CREATE TABLE in_block_comment (x INT); */
DELIMITER ;;
CREATE TRIGGER trg BEFORE INSERT ON \`Items\` FOR EACH ROW BEGIN SET NEW.total = 1; END;;
DELIMITER ;
CREATE TABLE IF NOT EXISTS \`Items\` (
  \`key\` VARCHAR(8) NOT NULL COMMENT 'a, b (c',
  \`shard\` SMALLINT NOT NULL DEFAULT 0,
  kind ENUM('a,b', 'c)') NOT NULL,
  \`odd\`\`name\` INT,
  changed_at BIGINT NOT NULL,
  total INT AS (\`shard\` + 1) VIRTUAL,
  PRIMARY KEY (\`key\`, shard),
  KEY items_shard (\`shard\`),
  CONSTRAINT chk CHECK (shard >= 0),
  INDEX (kind)
) ENGINE=InnoDB COMMENT='x;y';
CREATE TABLE notes (
  id INT KEY, # a comment (with a paren, and a comma
  body TEXT, -- another one) here
  /* and ( a block one, */ updated_at DATETIME(6) NOT NULL
);
CREATE TABLE copies LIKE notes;
CREATE TEMPORARY TABLE tmp (id INT PRIMARY KEY, updated_at BIGINT);
CREATE TABLE other_db.elsewhere (id INT PRIMARY KEY, updated_at BIGINT);
USE other_db;
CREATE TABLE used_elsewhere (id INT PRIMARY KEY, updated_at BIGINT);
USE ezshop;
CREATE TABLE after_use (id INT PRIMARY KEY, updated_at BIGINT);
`;

/** BASE with its tables replaced (YAML flow mappings, one per line) and a schema file. */
const withTables = (schema: string | undefined, ...tables: string[]) =>
  BASE.replace(
    /tables:[\s\S]*?deployment:/,
    `${schema ? `schema: ${schema}\n` : ''}tables:\n${tables.map((t) => `  - ${t}\n`).join('')}deployment:`,
  );

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ez-topology-'));
  writeFileSync(
    join(dir, 'fences.geojson'),
    JSON.stringify({
      type: 'FeatureCollection',
      features: [square(0, 0, 0), square(1, 0, 1), square(2, 0, 2)],
    }),
  );
  writeFileSync(
    join(dir, 'bad-shard.geojson'),
    JSON.stringify({ type: 'FeatureCollection', features: [square(0, 0, 9)] }),
  );
  writeFileSync(
    join(dir, 'open-ring.geojson'),
    JSON.stringify({ type: 'FeatureCollection', features: [openRing()] }),
  );
  writeFileSync(join(dir, 'not-json.geojson'), '{ nope');
  writeFileSync(join(dir, 'custom.sql'), CUSTOM_SQL);
  writeFileSync(join(dir, 'passwd.geojson'), 'root:x:0:0:root:/root:/bin/bash\n');
  writeFileSync(
    join(dir, 'multi-5.geojson'),
    JSON.stringify({
      type: 'FeatureCollection',
      features: [
        { type: 'Feature', properties: { shard: 0 }, geometry: { type: 'MultiPolygon', coordinates: 5 } },
      ],
    }),
  );
  writeFileSync(join(dir, 'bad-type.sql'), 'CREATE TABLE t (id INT PRIMARY KEY, updated_at VARCHAR(32));');
  writeFileSync(join(dir, 'no-pk.sql'), 'CREATE TABLE t (id INT, updated_at DATETIME(6));');
  writeFileSync(
    join(dir, 'unterminated.sql'),
    "CREATE TABLE t (\n  id INT,\n  note VARCHAR(8) DEFAULT 'x\n);",
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function openRing() {
  const f = square(0, 0, 0);
  f.geometry.coordinates[0].pop();
  f.geometry.coordinates[0].push([0.5, 0.5]);
  return f;
}

const parse = (text: string) => parseTopology(text, join(dir, 'topo.yaml'));

describe('topology loader', () => {
  it('accepts a valid file and resolves shards, ports and server ids', () => {
    const t = parse(BASE);
    expect(t.name).toBe('tiny');
    expect(t.database).toBe('ezshop');
    expect(t.zones.map((z) => [z.id, z.serverId])).toEqual([
      ['ez-a', 1],
      ['ez-b', 2],
    ]);
    expect([...t.shards.entries()]).toEqual([
      [0, 'ez-a'],
      [1, 'ez-b'],
      [2, 'ez-b'],
    ]);
    expect(t.deployment.zones['ez-b'].ports).toMatchObject({
      mysql: 30300,
      redis: 30301,
      dal: 30302,
      soa: 30303,
      drc: 30310,
    });
    expect(t.tables[0]).toMatchObject({ name: 'orders', primaryKey: ['id'], updatedAt: 'updated_at' });
    expect(t.fences).toHaveLength(3);
    expect(t.keys.merchant['m-1']).toBe(2);
  });

  // Each malformed file must give one line naming the offending path inside the file.
  const cases: Array<[string, string, RegExp]> = [
    [
      'unknown eZone of a shard',
      BASE.replace('{ id: 0, zone: ez-a }', '{ id: 0, zone: ez-xx }'),
      /shards\[0\]\.zone: unknown eZone "ez-xx" \(known: ez-a, ez-b\)/,
    ],
    [
      'shard id out of range',
      BASE.replace('{ id: 0, zone: ez-a }', '{ id: 1024, zone: ez-a }'),
      /shards\[0\]\.id: expected a shard id \(integer 0\.\.1023\), got 1024/,
    ],
    [
      'shard listed twice',
      BASE.replace('"1-2"', '"0-2"'),
      /shards\[1\]: shard 0 listed twice \(first at shards\[0\]\)/,
    ],
    ['bad eZone id', BASE.replace('- id: ez-b', '- id: EZ_B'), /zones\[1\]\.id: bad eZone id "EZ_B"/],
    ['duplicate eZone', BASE.replace('- id: ez-b', '- id: ez-a'), /zones\[1\]\.id: duplicate eZone "ez-a"/],
    [
      'unknown global master',
      BASE.replace('master: ez-a', 'master: ez-q'),
      /globalZone\.master: unknown eZone "ez-q"/,
    ],
    ['typo in a key', BASE.replace('shards:', 'shrads:'), /unknown key "shrads"/],
    [
      'sharded table without column',
      BASE.replace(', shardColumn: shard_id', ''),
      /tables\[0\]\.shardColumn: required for a sharded table/,
    ],
    [
      'bad table kind',
      BASE.replace('kind: global', 'kind: globl'),
      /tables\[1\]\.kind: expected "sharded", "global" or "local", got "globl"$/,
    ],
    [
      'missing deployment of an eZone',
      BASE.replace('    ez-b: { portBase: 30300 }\n', ''),
      /deployment\.zones: missing eZone "ez-b"/,
    ],
    [
      'port collision',
      BASE.replace('portBase: 30300', 'portBase: 30201'),
      /deployment\.zones\.ez-b\.portBase: port 30201 \(mysql of ez-b\) collides with redis of ez-a/,
    ],
    [
      'port out of range',
      BASE.replace('port: 30100', 'port: 70000'),
      /deployment\.gzs\.port: expected a TCP port/,
    ],
    [
      'host not declared under hosts',
      BASE.replace('ez-a: { portBase: 30200 }', 'ez-a: { host: db1, portBase: 30200 }'),
      /deployment\.zones\.ez-a\.host: unknown host "db1" \(declared: local\); declare it under hosts/,
    ],
    [
      'host name that is not a name',
      BASE.replace('ez-a: { portBase: 30200 }', 'ez-a: { host: db1.example, portBase: 30200 }'),
      /deployment\.zones\.ez-a\.host: bad host name "db1\.example"/,
    ],
    [
      'bad ssh address',
      BASE.replace('deployment:', 'hosts:\n  db1: { ssh: "root@10.0.0.5" }\ndeployment:'),
      /hosts\.db1\.ssh: bad ssh address "root@10\.0\.0\.5": expected ssh:\/\/user@address\[:port\]/,
    ],
    [
      'ssh port out of range',
      BASE.replace('deployment:', 'hosts:\n  db1: { ssh: "ssh://root@10.0.0.5:70000" }\ndeployment:'),
      /hosts\.db1\.ssh: port 70000 out of range/,
    ],
    [
      '"local" declared',
      BASE.replace('deployment:', 'hosts:\n  local: { address: 10.0.0.1 }\ndeployment:'),
      /hosts\.local: "local" is reserved/,
    ],
    [
      'host with neither ssh nor address',
      BASE.replace('deployment:', 'hosts:\n  db1: { dir: /srv }\ndeployment:'),
      /hosts\.db1: give ssh .* or address/,
    ],
    [
      'relative working directory',
      BASE.replace('deployment:', 'hosts:\n  db1: { ssh: "ssh://root@10.0.0.5", dir: srv }\ndeployment:'),
      /hosts\.db1\.dir: expected a working directory as an absolute path, got "srv"/,
    ],
    [
      'remote eZone with GZS on loopback',
      BASE.replace('deployment:', 'hosts:\n  db1: { ssh: "ssh://root@10.0.0.5" }\ndeployment:').replace(
        'ez-a: { portBase: 30200 }',
        'ez-a: { host: db1, portBase: 30200 }',
      ),
      /deployment\.gzs\.host: "local" is on loopback \(127\.0\.0\.1\), but deployment\.zones\.ez-a\.host is the remote host "db1"/,
    ],
    [
      'part host not declared under hosts',
      BASE.replace('ez-a: { portBase: 30200 }', 'ez-a: { parts: { mariadb: db9 }, portBase: 30200 }'),
      /deployment\.zones\.ez-a\.parts\.mariadb: unknown host "db9" \(declared: local\); declare it under hosts/,
    ],
    [
      'a part that is not one of the eZone',
      BASE.replace('ez-a: { portBase: 30200 }', 'ez-a: { parts: { mysql: local }, portBase: 30200 }'),
      /deployment\.zones\.ez-a\.parts: unknown key "mysql"/,
    ],
    [
      'remote eZone whose MariaDB stays on loopback',
      BASE.replace(
        'deployment:',
        'hosts:\n  db1: { ssh: "ssh://root@10.0.0.5" }\n  ctl: { address: 10.0.0.1 }\ndeployment:',
      )
        .replace('gzs: { port: 30100 }', 'gzs: { host: ctl, port: 30100 }')
        .replace(
          'ez-a: { portBase: 30200 }',
          'ez-a: { host: db1, parts: { mariadb: local }, portBase: 30200 }',
        ),
      /deployment\.zones\.ez-a\.parts\.mariadb: "local" is on loopback/,
    ],
    [
      'link server on a remote host',
      BASE.replace('deployment:', 'hosts:\n  db1: { ssh: "ssh://root@10.0.0.5" }\ndeployment:').replace(
        '  router: { port: 30080 }',
        '  router: { port: 30080 }\n  links: { host: db1, port: 30400 }',
      ),
      /deployment\.links\.host: the link server runs on the control machine/,
    ],
    [
      'key mapped to unlisted shard',
      BASE.replace('m-1: 2', 'm-1: 7'),
      /keys\.merchant\.m-1: shard 7 is not listed in shards/,
    ],
    ['missing tables', BASE.replace(/tables:[\s\S]*?deployment:/, 'deployment:'), /tables: required/],
    [
      'YAML syntax error',
      BASE.replace('zones:\n  - id: ez-a', 'zones:\n  - id: [ez-a'),
      /topo\.yaml:\d+:\d+ YAML syntax/,
    ],
    ['not a mapping', '- just\n- a list\n', /\(top level\): expected a mapping/],
    [
      'fence with unlisted shard',
      BASE.replace('fences.geojson', 'bad-shard.geojson'),
      /fences \(bad-shard\.geojson\): features\[0\]\.properties\.shard: shard 9 is not listed in shards/,
    ],
    [
      'fence ring not closed',
      BASE.replace('fences.geojson', 'open-ring.geojson'),
      /features\[0\]\.geometry\.coordinates\[0\]: ring is not closed/,
    ],
    [
      'fences file not JSON',
      BASE.replace('fences.geojson', 'not-json.geojson'),
      /fences \(not-json\.geojson\): not JSON/,
    ],
    [
      'fences file missing',
      BASE.replace('fences.geojson', 'nowhere.geojson'),
      /fences \(nowhere\.geojson\): cannot read fences file \(no such file\)$/,
    ],
    [
      'replicator port past 65535 (drc + 1 with three eZones)',
      THREE.replace('ez-c: { portBase: 30400 }', 'ez-c: { portBase: 30400, ports: { drc: 65535 } }'),
      /deployment\.zones\.ez-c\.ports\.drc: replicators into ez-c take ports 65535\.\.65536 \(one per other eZone\); 65536 exceeds 65535$/,
    ],
    [
      'replicator port past 65535 from portBase',
      THREE.replace('ez-c: { portBase: 30400 }', 'ez-c: { portBase: 65525 }'),
      /deployment\.zones\.ez-c\.portBase: replicators into ez-c take ports 65535\.\.65536 \(one per other eZone\); 65536 exceeds 65535$/,
    ],
    [
      'database is a system schema',
      `database: mysql\n${BASE}`,
      /topo\.yaml: database: "mysql" is a system schema of MariaDB\/MySQL/,
    ],
    [
      'database is a system schema, any case',
      `database: Performance_Schema\n${BASE}`,
      /database: "Performance_Schema" is a system schema/,
    ],
    [
      'primary key names a column twice',
      BASE.replace('kind: global }', 'kind: global, primaryKey: [id, id] }'),
      /tables\[1\]\.primaryKey\[1\]: column "id" listed twice \(first at primaryKey\[0\]\)$/,
    ],
    ['YAML alias bomb', `${BILLION_LAUGHS}\n${BASE}`, /topo\.yaml: YAML aliases: .*more than 100/],
    [
      'table not in the schema',
      BASE.replace('name: orders,', 'name: orderz,'),
      /tables\[0\]\.name: fixtures\/sql\/schema\.sql creates no table "orderz" in database ezshop \(it creates: orders, users\)$/,
    ],
    [
      'table name in another case',
      BASE.replace('name: users,', 'name: Users,'),
      /tables\[1\]\.name: .* creates no table "Users" .*\(did you mean "users"\? table names are case-sensitive\)$/,
    ],
    [
      'primary key column not in the table',
      BASE.replace('kind: global }', 'kind: global, primaryKey: [uid] }'),
      /tables\[1\]\.primaryKey\[0\]: table users \(fixtures\/sql\/schema\.sql:\d+\) has no column "uid" \(its columns: id, phone, name, version, updated_at\)$/,
    ],
    [
      'primary key is not the table primary key',
      BASE.replace('shardColumn: shard_id,', 'shardColumn: shard_id, primaryKey: [id, shard_id],'),
      /tables\[0\]\.primaryKey: \[id, shard_id\] is not the PRIMARY KEY of table orders \(.*\), which is \(id\)/,
    ],
    [
      'shard column not in the table',
      BASE.replace('shardColumn: shard_id', 'shardColumn: shard'),
      /tables\[0\]\.shardColumn: table orders \(.*\) has no column "shard"/,
    ],
    [
      'updatedAt column not in the table',
      BASE.replace('kind: global }', 'kind: global, updatedAt: Updated_At }'),
      /tables\[1\]\.updatedAt: table users \(.*\) has no column "Updated_At" \(did you mean "updated_at"\? names must match the schema exactly\)$/,
    ],
    [
      'updatedAt of a type DRC cannot compare',
      withTables('bad-type.sql', '{ name: t, kind: global }'),
      /tables\[0\]\.updatedAt: column updated_at of table t \(bad-type\.sql:1\) is VARCHAR; DRC's last-writer-wins needs DATETIME\(6\) or BIGINT/,
    ],
    [
      'table without a primary key',
      withTables('no-pk.sql', '{ name: t, kind: global }'),
      /tables\[0\]\.name: table t \(no-pk\.sql:1\) has no PRIMARY KEY; every replicated table needs one/,
    ],
    [
      'a table named only in a comment',
      withTables('custom.sql', '{ name: in_comment, kind: global }'),
      /tables\[0\]\.name: custom\.sql creates no table "in_comment"/,
    ],
    [
      'a temporary table',
      withTables('custom.sql', '{ name: tmp, kind: global }'),
      /tables\[0\]\.name: custom\.sql creates no table "tmp"/,
    ],
    [
      'a table of another database',
      withTables('custom.sql', '{ name: elsewhere, kind: global }'),
      /tables\[0\]\.name: custom\.sql creates no table "elsewhere" in database ezshop \(it creates: Items, notes, copies, after_use\)$/,
    ],
    [
      'a table created after USE of another database',
      withTables('custom.sql', '{ name: used_elsewhere, kind: global }'),
      /tables\[0\]\.name: custom\.sql creates no table "used_elsewhere" in database ezshop/,
    ],
    [
      'an index name is not a column',
      withTables(
        'custom.sql',
        '{ name: Items, kind: sharded, shardColumn: items_shard, primaryKey: [key, shard], updatedAt: changed_at }',
      ),
      /tables\[0\]\.shardColumn: table Items \(custom\.sql:7\) has no column "items_shard"/,
    ],
    [
      'schema file missing',
      withTables('nowhere.sql', '{ name: t, kind: global }'),
      /topo\.yaml: schema \(nowhere\.sql\): cannot read schema file \(no such file\)$/,
    ],
    [
      'schema file with an unterminated string',
      withTables('unterminated.sql', '{ name: t, kind: global }'),
      /topo\.yaml: schema \(unterminated\.sql\):3: unterminated string \('\)$/,
    ],
    [
      'MultiPolygon whose coordinates are not a list',
      BASE.replace('fences.geojson', 'multi-5.geojson'),
      /features\[0\]\.geometry\.coordinates: expected a list of polygons \(each a list of linear rings\), got 5$/,
    ],
    [
      'server id past 2^32 - 1',
      BASE.replace('- id: ez-a', '- id: ez-a\n    serverId: 9007199254740993'),
      /zones\[0\]\.serverId: expected a server id \(integer 1\.\.4294967295\), got 9007199254740992$/,
    ],
    [
      'server id 4294967296',
      BASE.replace('- id: ez-a', '- id: ez-a\n    serverId: 4294967296'),
      /zones\[0\]\.serverId: expected a server id \(integer 1\.\.4294967295\), got 4294967296$/,
    ],
    [
      'server id 0',
      BASE.replace('- id: ez-a', '- id: ez-a\n    serverId: 0'),
      /zones\[0\]\.serverId: expected a server id \(integer 1\.\.4294967295\), got 0$/,
    ],
    [
      'fences file that is not JSON: position, never its bytes',
      BASE.replace('fences.geojson', 'passwd.geojson'),
      /fences \(passwd\.geojson\): not JSON \(unexpected character at line 1, column 1\)$/,
    ],
    [
      'zero-width space in an eZone id, shown escaped',
      BASE.replace('- id: ez-b\n', '- id: "ez-b\\u200b"\n'),
      /zones\[1\]\.id: bad eZone id "ez-b\\u200b": expected lowercase/,
    ],
    [
      'invisible characters in a key and a path',
      BASE.replace('    ez-b: { portBase: 30300 }', '    "ez-b\\u2060": { portBase: 30300 }'),
      /deployment\.zones\.ez-b\\u2060: unknown eZone "ez-b\\u2060"/,
    ],
    [
      'right-to-left override in an unknown key',
      BASE.replace('shards:', '"shards\\u202e":'),
      /unknown key "shards\\u202e"/,
    ],
  ];

  for (const [what, text, expected] of cases) {
    it(`rejects: ${what}`, () => {
      let err: unknown;
      try {
        parse(text);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TopologyError);
      const message = (err as Error).message;
      expect(message).toMatch(expected);
      expect(message).not.toContain('\n');
      expect(message.startsWith(join(dir, 'topo.yaml')) || message.includes('topo.yaml')).toBe(true);
      expect((err as TopologyError).exitCode).toBe(2);
    });
  }

  it('resolves hosts: remote eZones by ssh, the control machine on a bridge address, addresses of every path', () => {
    const t = parse(
      BASE.replace(
        'deployment:',
        [
          'hosts:',
          '  control: { address: 10.231.0.1 }',
          '  bj1: { ssh: "ssh://root@10.231.0.11", key: /tmp/k/id, dir: /srv/ez/ }',
          '  sh1: { ssh: "ssh://ops@10.231.0.12:2222", address: 10.9.0.12 }',
          'deployment:',
        ].join('\n'),
      )
        .replace('gzs: { port: 30100 }', 'gzs: { host: control, port: 30100 }')
        .replace(
          '  router: { port: 30080 }',
          '  router: { port: 30080 }\n  links: { host: control, port: 30500 }',
        )
        .replace('ez-a: { portBase: 30200 }', 'ez-a: { host: bj1, portBase: 30200 }')
        .replace('ez-b: { portBase: 30300 }', 'ez-b: { host: sh1, portBase: 30300 }'),
    );
    expect(t.hosts.local).toEqual({ name: 'local', address: '127.0.0.1', dir: '' });
    expect(t.hosts.bj1).toEqual({
      name: 'bj1',
      address: '10.231.0.11',
      ssh: { user: 'root', address: '10.231.0.11', port: 22 },
      key: '/tmp/k/id',
      dir: '/srv/ez',
    });
    expect(t.hosts.sh1.ssh).toEqual({ user: 'ops', address: '10.231.0.12', port: 2222 });
    expect(t.hosts.sh1.address).toBe('10.9.0.12');
    expect(t.hosts.sh1.dir).toBe('/var/lib/ezctl');
    // services by their host's address; links listen on the link server's host, GZS on its own
    expect(directAddress(t, 'ez-b', 'mysql')).toEqual({ host: '10.9.0.12', port: 30300 });
    expect(reach(t, true, 'ez-a', 'ez-b', 'mysql').host).toBe('10.231.0.1');
    expect(reach(t, false, 'ez-a', 'ez-b', 'soa')).toEqual({ host: '10.9.0.12', port: 30303 });
    expect(controlGzsUrl(t)).toBe('http://10.231.0.1:30100');
    expect(leavesLoopback(t)).toBe(true);
    expect(leavesLoopback(parse(BASE))).toBe(false);
  });

  it("puts an eZone's parts on their own hosts: MariaDB and Redis on a database machine, the rest on the eZone's", () => {
    const t = parse(
      BASE.replace(
        'deployment:',
        [
          'hosts:',
          '  control: { address: 10.231.0.1 }',
          '  bj-app: { ssh: "ssh://root@10.231.0.11" }',
          '  bj-db: { ssh: "ssh://root@10.231.0.13" }',
          '  sh-app: { ssh: "ssh://root@10.231.0.12" }',
          'deployment:',
        ].join('\n'),
      )
        .replace('gzs: { port: 30100 }', 'gzs: { host: control, port: 30100 }')
        .replace(
          'ez-a: { portBase: 30200 }',
          'ez-a: { host: bj-app, parts: { mariadb: bj-db, redis: bj-db }, portBase: 30200 }',
        )
        .replace('ez-b: { portBase: 30300 }', 'ez-b: { host: sh-app, portBase: 30300 }'),
    );
    // every part listed: the named host, else the eZone's
    expect(t.deployment.zones['ez-a'].parts).toEqual({
      mariadb: 'bj-db',
      redis: 'bj-db',
      drc: 'bj-app',
      dal: 'bj-app',
      invalidator: 'bj-app',
      orders: 'bj-app',
      soa: 'bj-app',
    });
    expect(t.deployment.zones['ez-b'].parts.mariadb).toBe('sh-app');
    expect(partAddress(t, 'ez-a', 'redis')).toBe('10.231.0.13');
    expect(partAddress(t, 'ez-a', 'orders')).toBe('10.231.0.11');
    // a peer's MariaDB is reached where it runs, its SOA Proxy where that runs
    expect(directAddress(t, 'ez-a', 'mysql')).toEqual({ host: '10.231.0.13', port: 30200 });
    expect(directAddress(t, 'ez-a', 'soa').host).toBe('10.231.0.11');
  });

  it('accepts three eZones whose replicator ports end at 65535', () => {
    const t = parse(
      THREE.replace('ez-c: { portBase: 30400 }', 'ez-c: { portBase: 30400, ports: { drc: 65534 } }'),
    );
    expect(t.deployment.zones['ez-c'].ports.drc).toBe(65534);
  });

  it('checks tables against the default schema and a named one, and exposes its path', () => {
    expect(parse(BASE).schemaFile).toBe(join(fixturesDir(), 'sql', 'schema.sql'));
    const t = parse(
      withTables(
        'custom.sql',
        '{ name: Items, kind: sharded, shardColumn: shard, primaryKey: [shard, key], updatedAt: changed_at }',
        '{ name: notes, kind: global }',
        '{ name: copies, kind: global }',
        '{ name: after_use, kind: global }',
      ),
    );
    expect(t.schemaFile).toBe(join(dir, 'custom.sql'));
    expect(t.tables.map((tb) => tb.name)).toEqual(['Items', 'notes', 'copies', 'after_use']);
  });

  it('never prints what a file that is not JSON contains', () => {
    const err = thrown(() => parse(BASE.replace('fences.geojson', 'passwd.geojson')));
    expect(err.message).not.toMatch(/root|bash/);
    expect(thrown(() => parse(BASE.replace('fences.geojson', 'not-json.geojson'))).message).toMatch(
      /not-json\.geojson\): not JSON \(expected property name or '\}' at line 1, column 3\)$/,
    );
  });

  it('parseJsonText(): line and column of a syntax error, none of the text', () => {
    const at = (text: string) => thrown(() => parseJsonText(text)).message;
    // V8 words some of these itself: assert where, and that none of the text shows
    expect(at('{"a": [1, 2],\n  "b": tru\n}')).toBe('unexpected character at line 2, column 8');
    expect(at('secret')).toBe('unexpected character at line 1, column 1');
    expect(at('{"secret": "x"')).toMatch(/^[^"]* at line 1, column 15$/);
    expect(at('[1] secret')).toBe('unexpected character at line 1, column 5');
    expect(at('[1] secret')).not.toContain('secret');
    expect(at('[1,\n2,\n]')).toMatch(/ at line 3, column 1$/);
    expect(at('[')).toMatch(/ at line 1, column 2$/);
    expect(parseJsonText('{"a": [true, null, -1.5e3, "\\u00e9"]}')).toEqual({ a: [true, null, -1500, 'é'] });
  });

  it('quote(): escapes what would not show, cuts what is long', () => {
    expect(quote('ez-bj\u200b')).toBe('"ez-bj\\u200b"');
    expect(quote('a\u00a0b\u2028c\u202ed\ufeffe')).toBe('"a\\u00a0b\\u2028c\\u202ed\\ufeffe"');
    expect(quote('tab\there\u0000')).toBe('"tab\\there\\u0000"');
    expect(quote('x\udb40\udd00y')).toBe('"x\\udb40\\udd00y"'); // a variation selector (astral)
    expect(quote('lone \ud800')).toBe('"lone \\ud800"');
    expect(quote('北京 ez-bj é')).toBe('"北京 ez-bj é"'); // visible text stays as it is
    expect(quote('x'.repeat(100))).toBe(`"${'x'.repeat(48)}…"`);
    expect(quote(5)).toBe('5');
    expect(quote(undefined)).toBe('undefined');
  });

  it('names a missing topology file', () => {
    expect(() => loadTopology(join(dir, 'absent.yaml'))).toThrow(
      /absent\.yaml: cannot read topology file \(no such file\)/,
    );
  });

  it('loads the committed fixture topologies', () => {
    for (const name of ['two-zones', 'three-zones']) {
      const t = loadTopology(join(fixturesDir(), 'topologies', `${name}.yaml`));
      expect(t.name).toBe(name);
      const owners = new Set(t.shards.values());
      expect(owners.size).toBe(t.zones.length);
      // every fence names a listed shard (the loader checks it); every listed shard has a fence
      const fenced = new Set(t.fences.map((f) => f.shard));
      for (const id of t.shards.keys()) expect(fenced.has(id)).toBe(true);
      // the fixtures spell out the network defaults
      expect(t.network).toEqual({ rttMs: 30, edgeRttMs: 2, pairs: [] });
      expect(t.deployment.gzs.zone).toBe('ez-bj');
    }
  });
});

/** The error a call throws (fails the test when it returns). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, got none');
}

describe('input files', () => {
  it('refuses a directory as topology file', () => {
    const err = thrown(() => loadTopology(dir));
    expect(err).toBeInstanceOf(TopologyError);
    expect(err.message).toMatch(/: cannot read topology file \(a directory\)$/);
  });

  it('refuses a topology file over 1 MiB, naming the limit, without reading it', () => {
    const big = join(dir, 'big.yaml');
    writeFileSync(big, '');
    truncateSync(big, 2 * 1024 * 1024); // sparse: takes no disk space
    const err = thrown(() => loadTopology(big));
    expect(err).toBeInstanceOf(TopologyError);
    expect(err.message).toMatch(
      /big\.yaml: cannot read topology file \(over the size limit of 1 MiB: 2097152 bytes\)$/,
    );
    expect((err as TopologyError).exitCode).toBe(2);
  });

  it('refuses a fences file over 64 MiB', () => {
    const big = join(dir, 'big.geojson');
    writeFileSync(big, '');
    truncateSync(big, 64 * 1024 * 1024 + 1);
    const err = thrown(() => parse(BASE.replace('fences.geojson', 'big.geojson')));
    expect(err).toBeInstanceOf(TopologyError);
    expect(err.message).toMatch(
      /topo\.yaml: fences \(big\.geojson\): cannot read fences file \(over the size limit of 64 MiB: 67108865 bytes\)$/,
    );
  });

  it('readInputFile: reads a regular file, refuses bytes that are not UTF-8', () => {
    const ok = join(dir, 'ok.txt');
    writeFileSync(ok, '\ufeffhello ✓');
    expect(readInputFile(ok, { what: 'test file', maxBytes: 100 })).toBe('hello ✓');
    const bin = join(dir, 'bin.dat');
    writeFileSync(bin, Buffer.from([0x61, 0xff, 0xfe, 0x00]));
    expect(() => readInputFile(bin, { what: 'test file', maxBytes: 100 })).toThrow(
      /bin\.dat: cannot read test file \(not UTF-8 text\)$/,
    );
    // exactly at the limit is fine, one byte more is not
    expect(readInputFile(ok, { what: 'test file', maxBytes: 12 })).toBe('hello ✓');
    expect(() => readInputFile(ok, { what: 'test file', maxBytes: 11 })).toThrow(
      /over the size limit of 11 bytes/,
    );
  });
});

/**
 * Special files through the built CLI (`npx tsc -p .` first): a FIFO or /dev/zero must be refused
 * without reading. In a child process, so that a regression fails this test (killed by the guard
 * timeout, or by the address-space limit) instead of hanging the test run or eating the machine.
 */
describe('special files given as input (ezctl status)', () => {
  const root = projectRoot();
  beforeAll(() => {
    if (!existsSync(join(root, 'dist/commands/status.js')))
      throw new Error('dist/commands/status.js is missing: run `npx tsc -p .` (npm test builds first)');
  });
  const status = (topology: string) =>
    execa(
      '/bin/sh',
      [
        '-c',
        'ulimit -v 4000000; exec "$0" "$@"',
        process.execPath,
        'bin/run.js',
        'status',
        '--json',
        '--topology',
        topology,
        '--state-dir',
        join(dir, 'state'),
      ],
      {
        cwd: root,
        reject: false,
        timeout: 30_000, // a guard against a hang, not a measurement
        env: { NODE_NO_WARNINGS: '1', NODE_ENV: 'production' },
      },
    );
  const expectRefused = (r: Awaited<ReturnType<typeof status>>, message: RegExp) => {
    expect(r.timedOut).toBe(false);
    expect(r.exitCode).toBe(2);
    const out = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    expect(out.error.code).toBe('EZ_BAD_TOPOLOGY');
    expect(out.error.message).toMatch(message);
    expect(out.error.message).not.toContain('\n');
  };

  it('refuses /dev/zero and a FIFO as --topology', async () => {
    const fifo = join(dir, 'topo.fifo');
    execFileSync('mkfifo', [fifo]);
    const [zero, pipe] = await Promise.all([status('/dev/zero'), status(fifo)]);
    expectRefused(zero, /^\/dev\/zero: cannot read topology file \(a character device\)$/);
    expectRefused(pipe, /topo\.fifo: cannot read topology file \(a FIFO \(named pipe\)\)$/);
  });

  it('refuses /dev/zero and a FIFO as fences file', async () => {
    const fifo = join(dir, 'fences.fifo');
    execFileSync('mkfifo', [fifo]);
    mkdirSync(join(dir, 'special'), { recursive: true });
    const zeroTopo = join(dir, 'special', 'zero.yaml');
    const fifoTopo = join(dir, 'special', 'fifo.yaml');
    writeFileSync(zeroTopo, BASE.replace('fences.geojson', '/dev/zero'));
    writeFileSync(fifoTopo, BASE.replace('fences.geojson', fifo));
    const [zero, pipe] = await Promise.all([status(zeroTopo), status(fifoTopo)]);
    expectRefused(
      zero,
      /zero\.yaml: fences \(\/dev\/zero\): cannot read fences file \(a character device\)$/,
    );
    expectRefused(
      pipe,
      /fifo\.yaml: fences \(.*fences\.fifo\): cannot read fences file \(a FIFO \(named pipe\)\)$/,
    );
  });
});

/** A feature with the given rings (each ring closed here). */
const feature = (shard: number, ...rings: [number, number][][]) => ({
  type: 'Feature',
  properties: { shard, name: `f${shard}` },
  geometry: { type: 'Polygon', coordinates: rings.map((r) => [...r, r[0]]) },
});
const multi = (shard: number, ...polygons: [number, number][][][]) => ({
  type: 'Feature',
  properties: { shard },
  geometry: { type: 'MultiPolygon', coordinates: polygons.map((rings) => rings.map((r) => [...r, r[0]])) },
});
const sq = (x: number, y: number, w = 1): [number, number][] => [
  [x, y],
  [x + w, y],
  [x + w, y + w],
  [x, y + w],
];

describe('fence geometry', () => {
  /** Load BASE with these features as its fences (shards 0..2 are listed). */
  const withFences = (features: unknown[], extra = '') => {
    const name = `geo-${Math.random().toString(36).slice(2)}.geojson`;
    writeFileSync(join(dir, name), JSON.stringify({ type: 'FeatureCollection', features }));
    return parse(`${extra}${BASE.replace('fences.geojson', name)}`);
  };
  const rejects = (features: unknown[], expected: RegExp, extra = '') => {
    const err = thrown(() => withFences(features, extra));
    expect(err).toBeInstanceOf(TopologyError);
    expect(err.message).toMatch(expected);
    expect(err.message).not.toContain('\n');
  };

  it('refuses a bow-tie ring, naming the feature and the ring', () => {
    const bowTie: [number, number][] = [
      [0, 0],
      [1, 1],
      [1, 0],
      [0, 1],
    ];
    rejects(
      [square(5, 5, 0), feature(1, bowTie)],
      /fences \(geo-.*\): features\[1\]\.geometry\.coordinates\[0\]: ring crosses or touches itself near \[0\.5, 0\.5\] \(edges 0 and 2\)/,
    );
  });

  it('refuses a ring touching itself at a vertex, and a spike', () => {
    // a figure 8 through (1, 1); no two of its edges on one line
    const eight: [number, number][] = [
      [0, 0],
      [1, 1],
      [2, 0],
      [2, 3],
      [1, 1],
      [0, 3],
    ];
    rejects(
      [feature(0, eight)],
      /features\[0\]\.geometry\.coordinates\[0\]: ring crosses or touches itself near \[1, 1\]/,
    );
    const spike: [number, number][] = [
      [0, 0],
      [2, 0],
      [1, 0],
      [1, 1],
    ];
    rejects([feature(0, spike)], /features\[0\]\.geometry\.coordinates\[0\]: ring crosses or touches itself/);
  });

  it('refuses rings with fewer than 3 distinct positions or no area', () => {
    rejects(
      [
        feature(0, [
          [0, 0],
          [1, 1],
          [1, 1],
          [0, 0],
        ]),
      ],
      /features\[0\]\.geometry\.coordinates\[0\]: ring has fewer than 3 distinct positions \(2\)$/,
    );
    rejects(
      [
        feature(0, [
          [0, 0],
          [1, 1],
          [2, 2],
          [3, 3],
        ]),
      ],
      /features\[0\]\.geometry\.coordinates\[0\]: ring has zero area \(all its positions lie on one line\)$/,
    );
  });

  it('refuses holes outside their polygon, inside another hole, or crossing the outer ring', () => {
    rejects(
      [feature(0, sq(0, 0, 4), sq(5, 5))],
      /features\[0\]\.geometry\.coordinates\[1\]: hole is not inside the outer ring \[0\]$/,
    );
    rejects(
      [feature(0, sq(0, 0, 10), sq(1, 1, 6), sq(2, 2))],
      /features\[0\]\.geometry\.coordinates\[2\]: hole lies inside hole \[1\]$/,
    );
    rejects(
      [feature(0, sq(0, 0, 4), sq(3, 1, 2))],
      /features\[0\]\.geometry\.coordinates\[1\]: ring crosses or touches ring \[0\] of the same polygon/,
    );
  });

  it('refuses overlapping fences, naming both, whatever the way they overlap', () => {
    const over =
      /features\[1\]: overlaps features\[0\] \("f0"\) near \[[-\d., ]+\]; fences may share edges but not overlap/;
    rejects([feature(0, sq(0, 0, 2)), feature(1, sq(1, 1, 2))], over); // edges cross
    rejects([feature(0, sq(0, 0, 4)), feature(1, sq(1, 1))], over); // one inside the other
    rejects([feature(0, sq(1, 1)), feature(1, sq(0, 0, 4))], /features\[1\]: overlaps features\[0\]/); // the other way round
    rejects([feature(0, sq(0, 0)), feature(1, sq(0, 0))], over); // the same square
    // a diamond whose corners touch the square's edges: no crossing, no vertex strictly inside
    rejects(
      [
        feature(0, sq(0, 0, 2)),
        feature(1, [
          [1, 0],
          [2, 1],
          [1, 2],
          [0, 1],
        ]),
      ],
      over,
    );
    // a triangle on the square's edges: its diagonal runs through the square's interior
    rejects(
      [
        feature(0, sq(0, 0)),
        feature(1, [
          [0, 0],
          [1, 0],
          [1, 1],
        ]),
      ],
      over,
    );
  });

  it('accepts fences that share edges or corners, and holes filled by another fence', () => {
    const t = withFences([
      feature(0, sq(0, 0)),
      feature(1, sq(1, 0)), // shares an edge
      feature(2, sq(2, 1)), // shares only the corner (2, 1) with shard 1
      feature(0, [
        [0, 1],
        [0.5, 1],
        [1, 1],
        [1, 2],
        [0, 2],
      ]), // shares part of an edge, with an extra vertex
    ]);
    expect(t.fences).toHaveLength(4);
    const holed = withFences([feature(0, sq(0, 0, 3), sq(1, 1)), feature(1, sq(1, 1))]);
    expect(holed.fences).toHaveLength(2);
  });

  it('allows overlaps with fenceOverlap: first-wins, never between parts of one MultiPolygon', () => {
    const t = withFences([feature(0, sq(0, 0, 2)), feature(1, sq(1, 1, 2))], 'fenceOverlap: first-wins\n');
    expect(t.fenceOverlap).toBe('first-wins');
    expect(parse(BASE).fenceOverlap).toBe('error');
    rejects(
      [multi(0, [sq(0, 0, 2)], [sq(1, 1, 2)])],
      /features\[0\]\.geometry\.coordinates\[1\]: overlaps coordinates\[0\] of the same MultiPolygon/,
      'fenceOverlap: first-wins\n',
    );
    rejects(
      [feature(0, sq(0, 0))],
      /fenceOverlap: expected "error" or "first-wins", got "last-wins"/,
      'fenceOverlap: last-wins\n',
    );
  });

  it('accepts the committed fences (they tile the country: shared edges only)', () => {
    const t = loadTopology(join(fixturesDir(), 'topologies', 'three-zones.yaml'));
    expect(t.fences.length).toBeGreaterThan(40);
  });
});

describe('topology: network, GZS zone, local tables, reserved names', () => {
  const withNetwork = (yaml: string) => parse(`${BASE}network:\n${yaml}`);
  const rejects = (text: string, expected: RegExp) => {
    const err = thrown(() => parse(text));
    expect(err).toBeInstanceOf(TopologyError);
    expect(err.message).toMatch(expected);
    expect(err.message).not.toContain('\n');
    expect((err as TopologyError).exitCode).toBe(2);
  };

  it('network: defaults 30 ms between eZones, 2 ms from the edge, no pairs', () => {
    const t = parse(BASE);
    expect(t.network).toEqual({ rttMs: 30, edgeRttMs: 2, pairs: [] });
    expect(rttBetween(t, 'ez-a', 'ez-b')).toBe(30);
    expect(rttBetween(t, 'edge', 'ez-b')).toBe(2);
    expect(rttBetween(t, 'ez-b', 'edge')).toBe(2);
    expect(rttBetween(t, 'ez-a', 'ez-a')).toBe(0);
    expect(() => rttBetween(t, 'ez-a', 'ez-q')).toThrow(/unknown site "ez-q"/);
  });

  it('network: durations in ms or s, a plain integer is milliseconds; pairs override either way round', () => {
    const t = parse(
      `${THREE}network:\n  rtt: 1.5s\n  edgeRtt: 0\n  pairs:\n    - { zones: [ez-a, ez-b], rtt: 40ms }\n    - { zones: [ez-c, ez-a], rtt: 250 }\n`,
    );
    expect(t.network).toEqual({
      rttMs: 1500,
      edgeRttMs: 0,
      pairs: [
        { zones: ['ez-a', 'ez-b'], rttMs: 40 },
        { zones: ['ez-c', 'ez-a'], rttMs: 250 },
      ],
    });
    expect(rttBetween(t, 'ez-b', 'ez-a')).toBe(40);
    expect(rttBetween(t, 'ez-a', 'ez-c')).toBe(250);
    expect(rttBetween(t, 'ez-b', 'ez-c')).toBe(1500);
    expect(rttBetween(t, 'edge', 'ez-c')).toBe(0);
    expect(withNetwork('  rtt: 60s\n').network.rttMs).toBe(60000);
    expect(withNetwork('  rtt: 0ms\n  edgeRtt: "2.5ms"\n').network).toMatchObject({
      rttMs: 0,
      edgeRttMs: 2.5,
    });
  });

  const badNetwork: Array<[string, string, RegExp]> = [
    ['over 60 s', '  rtt: 61s\n', /network\.rtt: 61000 ms is more than the maximum 60000 ms$/],
    ['negative', '  rtt: -5\n', /network\.rtt: expected a duration .*got -5$/],
    [
      'a fraction without unit',
      '  rtt: 1.5\n',
      /network\.rtt: .*a plain number is whole milliseconds.*got 1\.5$/,
    ],
    ['a string without unit', '  edgeRtt: "30"\n', /network\.edgeRtt: expected a duration .*got "30"$/],
    [
      'minutes',
      '  rtt: 1m\n',
      /network\.rtt: expected a duration \("30ms", "1\.5s", or an integer of milliseconds\), got "1m"$/,
    ],
    ['unknown key', '  latency: 30ms\n', /network: unknown key "latency"/],
    [
      'a pair with an unknown eZone',
      '  pairs:\n    - { zones: [ez-a, ez-x], rtt: 5ms }\n',
      /network\.pairs\[0\]\.zones\[1\]: unknown eZone "ez-x" \(known: ez-a, ez-b\)$/,
    ],
    [
      'a pair of one eZone',
      '  pairs:\n    - { zones: [ez-a, ez-a], rtt: 5ms }\n',
      /network\.pairs\[0\]\.zones: names "ez-a" twice; a pair is two different eZones$/,
    ],
    [
      'a pair listed twice',
      '  pairs:\n    - { zones: [ez-a, ez-b], rtt: 5ms }\n    - { zones: [ez-b, ez-a], rtt: 6ms }\n',
      /network\.pairs\[1\]\.zones: the pair ez-b, ez-a is already at network\.pairs\[0\]$/,
    ],
    [
      'a pair of three',
      '  pairs:\n    - { zones: [ez-a, ez-b, ez-a], rtt: 5ms }\n',
      /network\.pairs\[0\]\.zones: expected two eZone ids/,
    ],
    ['a pair without rtt', '  pairs:\n    - { zones: [ez-a, ez-b] }\n', /network\.pairs\[0\]\.rtt: required/],
  ];
  for (const [what, yaml, expected] of badNetwork) {
    it(`network: rejects ${what}`, () => rejects(`${BASE}network:\n${yaml}`, expected));
  }

  it('deployment.gzs.zone: defaults to the Global-Zone master, must be a known eZone', () => {
    expect(parse(BASE).deployment.gzs).toEqual({ host: 'local', port: 30100, zone: 'ez-a' });
    expect(
      parse(BASE.replace('gzs: { port: 30100 }', 'gzs: { port: 30100, zone: ez-b }')).deployment.gzs.zone,
    ).toBe('ez-b');
    rejects(
      BASE.replace('gzs: { port: 30100 }', 'gzs: { port: 30100, zone: ez-x }'),
      /deployment\.gzs\.zone: unknown eZone "ez-x" \(known: ez-a, ez-b\)$/,
    );
  });

  it('local tables: apart from the replicated ones, checked against the schema', () => {
    const t = parse(
      withTables(
        'custom.sql',
        '{ name: Items, kind: sharded, shardColumn: shard, primaryKey: [key, shard], updatedAt: changed_at }',
        '{ name: notes, kind: local }',
        '{ name: copies, kind: global }',
      ),
    );
    expect(t.tables.map((tb) => [tb.name, tb.kind])).toEqual([
      ['Items', 'sharded'],
      ['copies', 'global'],
    ]);
    expect(t.localTables).toEqual([{ name: 'notes', kind: 'local' }]);
    expect(parse(BASE).localTables).toEqual([]);
  });

  const badTables: Array<[string, string[], RegExp]> = [
    [
      'a local table with a shard column',
      ['{ name: notes, kind: local, shardColumn: id }'],
      /tables\[1\]\.shardColumn: a local table has no shard column/,
    ],
    [
      'a local table with a primary key',
      ['{ name: notes, kind: local, primaryKey: [id] }'],
      /tables\[1\]\.primaryKey: a local table is not replicated: primaryKey, updatedAt and cacheKey do not apply$/,
    ],
    [
      'a local table with a cache key',
      ['{ name: notes, kind: local, cacheKey: "n:{id}" }'],
      /tables\[1\]\.cacheKey: a local table is not replicated/,
    ],
    [
      'a local table not in the schema',
      ['{ name: scratch, kind: local }'],
      /tables\[1\]\.name: custom\.sql creates no table "scratch"/,
    ],
    [
      'a bad kind',
      ['{ name: notes, kind: locale }'],
      /tables\[1\]\.kind: expected "sharded", "global" or "local", got "locale"$/,
    ],
    [
      'a table without kind',
      ['{ name: notes }'],
      /tables\[1\]\.kind: expected "sharded", "global" or "local", got undefined$/,
    ],
    [
      'a local table named like a replicated one',
      ['{ name: Items, kind: local }'],
      /tables\[1\]\.name: duplicate table "Items" \(first at tables\[0\]\)$/,
    ],
  ];
  for (const [what, extra, expected] of badTables) {
    it(`tables: rejects ${what}`, () =>
      rejects(
        withTables(
          'custom.sql',
          '{ name: Items, kind: sharded, shardColumn: shard, primaryKey: [key, shard], updatedAt: changed_at }',
          ...extra,
        ),
        expected,
      ));
  }
  it('tables: at least one replicated table', () =>
    rejects(
      withTables('custom.sql', '{ name: notes, kind: local }'),
      /tables: expected at least one replicated \(sharded or global\) table$/,
    ));

  it('refuses the eZone id "edge", saying why', () =>
    rejects(
      BASE.replace('- id: ez-b\n', '- id: edge\n').replace('ez-b', 'edge').replace('ez-b:', 'edge:'),
      /zones\[1\]\.id: "edge" is reserved: it names APIRouter's site in link names \(edge->ez-bj:api\); choose another id$/,
    ));

  it('says that ports.app was renamed orders', () => {
    rejects(
      BASE.replace('ez-a: { portBase: 30200 }', 'ez-a: { portBase: 30200, ports: { app: 30250 } }'),
      /deployment\.zones\.ez-a\.ports\.app: "app" was renamed "orders" \(the order service\); write ports\.orders$/,
    );
    const t = parse(
      BASE.replace('ez-a: { portBase: 30200 }', 'ez-a: { portBase: 30200, ports: { orders: 30250 } }'),
    );
    expect(t.deployment.zones['ez-a'].ports.orders).toBe(30250);
    expect(parse(BASE).deployment.zones['ez-b'].ports.orders).toBe(30304);
  });
});
