/**
 * A cluster's secrets (GZS change-API token, MySQL account passwords, Redis password): generated
 * once per cluster into `<state>/<cluster>/secrets.json` (mode 0600), handed to parts and the CLI
 * as environment variables, and the rule that a part refuses a development default off loopback.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import { EzError } from '../util/errors.js';
import { MYSQL_ROLES, mysqlAccount, passwordEnvVar } from './mysql-accounts.js';

export interface ClusterSecrets {
  version: 1;
  /** bearer token of GZS's change API (EZ_GZS_TOKEN) */
  gzsToken: string;
  /** password by MySQL user name: root, ezapp, drc_reader, drc_applier (EZ_MYSQL_<USER>_PASSWORD) */
  mysql: Record<string, string>;
  /** Redis `requirepass` (EZ_REDIS_PASSWORD) */
  redis: string;
  /** ISO time the file was generated */
  createdAt: string;
}

/** The MySQL user names a secrets file holds a password for (root, ezapp, drc_reader, drc_applier). */
export const MYSQL_USERS: readonly string[] = MYSQL_ROLES.map((r) => mysqlAccount(r, {}).user);

/** Random bytes per generated secret (base64url: 43 characters). */
const SECRET_BYTES = 32;

const Secret = z
  .string({ error: 'expected a non-empty string' })
  .min(1, { error: 'expected a non-empty string' });

const SecretsSchema = z.looseObject({
  version: z.literal(1, { error: 'expected version 1' }),
  gzsToken: Secret,
  mysql: z.looseObject(Object.fromEntries(MYSQL_USERS.map((u) => [u, Secret]))),
  redis: Secret,
  createdAt: z.string({ error: 'expected an ISO time (string)' }),
});

export const secretsFile = (clusterDir: string): string => join(clusterDir, 'secrets.json');

const generate = (): string => randomBytes(SECRET_BYTES).toString('base64url');

/** Fresh secrets: every one random (MySQL root too). */
export function generateClusterSecrets(now = new Date()): ClusterSecrets {
  return {
    version: 1,
    gzsToken: generate(),
    mysql: Object.fromEntries(MYSQL_USERS.map((u) => [u, generate()])),
    redis: generate(),
    createdAt: now.toISOString(),
  };
}

const badFile = (file: string, what: string): EzError =>
  new EzError(
    'EZ_SECRETS',
    `${file}: ${what}; fix it, or delete it to generate new secrets (see docs/remote.md "Secrets": rotating MySQL root that way is not supported)`,
  );

/**
 * Read `<clusterDir>/secrets.json`: undefined when there is none; an EzError (EZ_SECRETS) naming
 * the file when it cannot be read or is not a secrets file.
 */
export function readClusterSecrets(clusterDir: string): ClusterSecrets | undefined {
  const file = secretsFile(clusterDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw badFile(file, `cannot read the cluster's secrets (${code ?? (err as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw badFile(file, `not JSON (${(err as Error).message})`);
  }
  const r = SecretsSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const path = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    throw badFile(file, `not a secrets file: ${path}: ${issue.message}`);
  }
  return {
    version: 1,
    gzsToken: r.data.gzsToken,
    mysql: Object.fromEntries(MYSQL_USERS.map((u) => [u, r.data.mysql[u] as string])),
    redis: r.data.redis,
    createdAt: r.data.createdAt,
  };
}

/**
 * The cluster's secrets: read from `<clusterDir>/secrets.json`, else generated and written there.
 * The file is written atomically (a temporary file created with mode 0600, then hard-linked into
 * place, so of two concurrent callers one wins and the other reads its file, never half a file;
 * renamed where the file system has no hard links);
 * `clusterDir` is created with mode 0700 when missing. An existing file whose mode lets anyone
 * but its owner read it is set back to 0600, silently (it holds passwords; a wider mode is never
 * intended). A file that is not a secrets file is an error (EZ_SECRETS), never overwritten: the
 * accounts and the token in it may be in use.
 */
export function ensureClusterSecrets(clusterDir: string): ClusterSecrets {
  const file = secretsFile(clusterDir);
  const existing = readClusterSecrets(clusterDir);
  if (existing) {
    tighten(file);
    return existing;
  }
  mkdirSync(clusterDir, { recursive: true, mode: 0o700 });
  const secrets = generateClusterSecrets();
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(secrets, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      // another process generated them first: theirs are the cluster's
      const theirs = readClusterSecrets(clusterDir);
      if (!theirs) throw badFile(file, 'vanished while being created');
      tighten(file);
      return theirs;
    }
    // a file system without hard links: a plain rename (atomic, but the last writer wins)
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
  return secrets;
}

/** chmod 0600 when group or others have any access. */
function tighten(file: string): void {
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
}

/** What a part reads them from: EZ_GZS_TOKEN, EZ_MYSQL_<USER>_PASSWORD for each user, EZ_REDIS_PASSWORD. */
export function secretsEnv(s: ClusterSecrets): Record<string, string> {
  const env: Record<string, string> = { EZ_GZS_TOKEN: s.gzsToken };
  for (const [user, password] of Object.entries(s.mysql)) env[passwordEnvVar(user)] = password;
  env.EZ_REDIS_PASSWORD = s.redis;
  return env;
}

/** The variables applySecretsEnv put into an environment, and the value it put there. */
const appliedByUs = new WeakMap<NodeJS.ProcessEnv, Map<string, string>>();

/**
 * Put a cluster's secrets into `env` (default process.env), each variable only where it is unset or
 * still holds what an earlier call put there: what the user exported always wins. Answers the
 * names of the variables set.
 */
export function applySecretsEnv(s: ClusterSecrets, env: NodeJS.ProcessEnv = process.env): string[] {
  const ours = appliedByUs.get(env) ?? new Map<string, string>();
  appliedByUs.set(env, ours);
  const set: string[] = [];
  for (const [name, value] of Object.entries(secretsEnv(s))) {
    const current = env[name];
    if (current !== undefined && ours.get(name) !== current) continue;
    env[name] = value;
    ours.set(name, value);
    set.push(name);
  }
  return set;
}

/** Whether a listen address only takes connections from this machine: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h === 'localhost' || h === 'localhost.') return true;
  const v = isIP(h);
  if (v === 4) return h.startsWith('127.');
  if (v !== 6) return false;
  // canonical form: ::1, or an IPv4-mapped 127.x.y.z (::ffff:7fxx:xxxx)
  const canonical = new URL(`http://[${h}]/`).hostname.slice(1, -1);
  return canonical === '::1' || /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(canonical);
}

export interface DefaultSecretCheck {
  /** the part, as error lines name it: GZS, DAL, … */
  part: string;
  /** the address it is about to listen on */
  bindHost: string;
  /** the default in force, e.g. `the development token (ezctl-dev-token)` */
  what: string;
  /** the variable that sets the real one, e.g. EZ_GZS_TOKEN */
  env: string;
  isDefault: boolean;
}

/**
 * A part about to listen beyond loopback with a development default (a token or password anyone
 * can read in this repository) refuses: EzError EZ_DEFAULT_SECRET (exit 1). On loopback, or with a
 * real secret, nothing happens.
 */
export function refuseDefaultSecret(o: DefaultSecretCheck): void {
  if (!o.isDefault || isLoopback(o.bindHost)) return;
  throw new EzError(
    'EZ_DEFAULT_SECRET',
    `${o.part}: refusing to listen on ${o.bindHost} with ${o.what}: set ${o.env} (ezctl up generates one per cluster in <state>/<cluster>/secrets.json)`,
  );
}

/** The Redis password parts and clients authenticate with: EZ_REDIS_PASSWORD, else none. */
export function redisPassword(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.EZ_REDIS_PASSWORD || undefined;
}
