// The DAL (DESIGN §1, §4): a MySQL-protocol proxy in front of each eZone's MariaDB. Its statement
// classifier (src/dal/sql/) decides what a statement writes and where its shard comes from.
export * from './sql/index.js';
