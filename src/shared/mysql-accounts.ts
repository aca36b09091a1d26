/**
 * MySQL accounts every eZone's MariaDB gets from `ezctl up` (bootstrap in launch/kinds/mariadb.ts),
 * shared by the launcher, DRC, the invalidator, the services and the harness.
 * The passwords are fixed development defaults so every part and test can log in without set-up;
 * production sets each one through `EZ_MYSQL_<USER>_PASSWORD` (USER upper-cased, e.g.
 * EZ_MYSQL_DRC_READER_PASSWORD), read by `mysqlAccount()` each time it is called (`ezctl up` puts
 * the cluster's secrets.json there: src/shared/secrets.ts).
 */
export type MysqlRole = 'root' | 'app' | 'reader' | 'applier';

export interface MysqlAccount {
  role: MysqlRole;
  user: string;
  password: string;
  /** what it is for, for docs and errors */
  purpose: string;
}

const ACCOUNTS: Record<MysqlRole, Omit<MysqlAccount, 'password'> & { devPassword: string }> = {
  // root only on the private unix socket (root@localhost); the TCP root accounts are dropped
  root: { role: 'root', user: 'root', devPassword: '', purpose: 'administration over the private socket' },
  app: { role: 'app', user: 'ezapp', devPassword: 'ezapp-dev', purpose: 'the order service (DML)' },
  reader: {
    role: 'reader',
    user: 'drc_reader',
    devPassword: 'drc-reader-dev',
    purpose: 'DRC binlog reader (REPLICATION SLAVE, BINLOG MONITOR, SELECT)',
  },
  applier: {
    role: 'applier',
    user: 'drc_applier',
    devPassword: 'drc-applier-dev',
    purpose: 'DRC applier (DML + DDL on the database, BINLOG REPLAY, BINLOG ADMIN)',
  },
};

/** Every role, in the order the launcher creates their accounts. */
export const MYSQL_ROLES: readonly MysqlRole[] = ['root', 'app', 'reader', 'applier'];

/** The environment variable that overrides a user's password. */
export const passwordEnvVar = (user: string): string => `EZ_MYSQL_${user.toUpperCase()}_PASSWORD`;

/** The account of a role, with the password from the environment when set, else the dev default. */
export function mysqlAccount(role: MysqlRole, env: NodeJS.ProcessEnv = process.env): MysqlAccount {
  const a = ACCOUNTS[role];
  return { role, user: a.user, password: env[passwordEnvVar(a.user)] ?? a.devPassword, purpose: a.purpose };
}

/** Whether a role's password is still the development default (its variable unset, or set to it). */
export function hasDevPassword(role: MysqlRole, env: NodeJS.ProcessEnv = process.env): boolean {
  return mysqlAccount(role, env).password === ACCOUNTS[role].devPassword;
}
