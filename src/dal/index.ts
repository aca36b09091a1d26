// The DAL (DESIGN §1, §4): a MySQL-protocol proxy in front of each eZone's MariaDB. Its statement
// classifier (src/dal/sql/) decides what a statement writes and where its shard comes from; the
// server (server.ts) relays what may run; status.ts is what `ezctl dal status` reads.
export { checkDalSecrets, Dal, type DalHealth, type DalOptions } from './server.js';
export * from './sql/index.js';
export { type DalStatus, dalStatus, formatDalStatus } from './status.js';
