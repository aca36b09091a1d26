// The order service's reads and writes on its eZone's MariaDB (µs updated_at, version per write).
import mysql, { type Pool, type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';
import { ORIGIN_COLUMN, type Version } from '../shared/row-version.js';
import { type OrderAction, TRANSITIONS } from './lifecycle.js';

/** An order as the API shows it (ids as strings: they exceed 2^53). */
export interface Order {
  id: string;
  shard: number;
  user: string;
  merchant: string;
  rider: string | null;
  state: string;
  amountCents: number;
  version: number;
  createdAt: string;
  updatedAt: string;
  /** server id of the eZone that wrote this version (DRC's invisible column); 0 without DRC */
  origin: number;
}

export interface NewOrder {
  id: string;
  shard: number;
  user: string;
  merchant: string;
  amountCents: number;
}

export type TransitionResult =
  | { ok: true; order: Order }
  | { ok: false; reason: 'not-found' }
  | { ok: false; reason: 'bad-state'; state: string };

const COLUMNS =
  'id, shard_id, user_id, merchant_id, rider_id, state, amount_cents, version, created_at, updated_at';

function toOrder(r: RowDataPacket): Order {
  return {
    id: String(r.id),
    shard: Number(r.shard_id),
    user: r.user_id,
    merchant: r.merchant_id,
    rider: r.rider_id ?? null,
    state: r.state,
    amountCents: Number(r.amount_cents),
    version: Number(r.version),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    origin: r[ORIGIN_COLUMN] === undefined || r[ORIGIN_COLUMN] === null ? 0 : Number(r[ORIGIN_COLUMN]),
  };
}

export const orderVersion = (o: Order): Version => ({ at: o.updatedAt, origin: o.origin });

/** A registered user (the Global-Zone table `users`: written in the master eZone, read everywhere). */
export interface User {
  id: string;
  phone: string;
  name: string;
  version: number;
  updatedAt: string;
}

/** Registering a phone that is taken (MariaDB's unique key on users.phone, in the master eZone). */
export class PhoneTaken extends Error {}

/**
 * The order service's writes and reads through its eZone's DAL (or straight on its MariaDB when
 * `ezctl up` runs no DALs). Every write sets updated_at with microseconds and bumps version by one
 * (DESIGN §5).
 */
export class OrderStore {
  readonly pool: Pool;
  /** DRC adds the invisible drc_origin column; until it has, rows are read without it */
  private originColumn: boolean | undefined;
  private originCheckedAt = 0;

  constructor(opts: { host: string; port: number; user: string; password: string; database: string }) {
    this.pool = mysql.createPool({
      ...opts,
      connectionLimit: 16,
      // ids above 2^53 and DATETIME(6) microseconds come back as exact text
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      enableKeepAlive: true,
    });
  }

  private async columns(): Promise<string> {
    if (this.originColumn !== true && Date.now() - this.originCheckedAt > 5000) {
      this.originCheckedAt = Date.now();
      const [rows] = await this.pool.query<RowDataPacket[]>(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'orders' AND column_name = ?",
        [ORIGIN_COLUMN],
      );
      this.originColumn = rows.length > 0;
    }
    return this.originColumn ? `${COLUMNS}, ${ORIGIN_COLUMN}` : COLUMNS;
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async create(o: NewOrder): Promise<Order> {
    await this.pool.execute(
      `INSERT INTO orders (id, shard_id, user_id, merchant_id, state, amount_cents, version, created_at, updated_at)
       VALUES (?, ?, ?, ?, 'placed', ?, 1, NOW(6), NOW(6))`,
      [o.id, o.shard, o.user, o.merchant, o.amountCents],
    );
    const order = await this.get(o.id);
    if (!order) throw new Error(`order ${o.id} vanished right after its insert`);
    return order;
  }

  async get(id: string): Promise<Order | null> {
    const [rows] = await this.pool.execute<RowDataPacket[]>(
      `SELECT ${await this.columns()} FROM orders WHERE id = ?`,
      [id],
    );
    return rows.length === 0 ? null : toOrder(rows[0]);
  }

  /** One conditional UPDATE: applies only from the states the action allows. */
  async transition(id: string, action: OrderAction, rider?: string): Promise<TransitionResult> {
    const t = TRANSITIONS[action];
    const [res] = await this.pool.execute<ResultSetHeader>(
      `UPDATE orders SET state = ?, rider_id = COALESCE(?, rider_id), version = version + 1, updated_at = NOW(6)
       WHERE id = ? AND state IN (${t.from.map(() => '?').join(', ')})`,
      [t.to, rider ?? null, id, ...t.from],
    );
    const order = await this.get(id);
    if (!order) return { ok: false, reason: 'not-found' };
    if (res.affectedRows === 0) return { ok: false, reason: 'bad-state', state: order.state };
    return { ok: true, order };
  }

  /**
   * Register a user: a Global-Zone write (the DAL runs it in the master eZone, whose unique key on
   * phone makes registration unique across eZones), then the user read back on the same session
   * with read-your-writes (the DAL waits until this eZone's copy holds the write).
   */
  async registerUser(u: { id: string; phone: string; name: string }): Promise<User> {
    const c = await this.pool.getConnection();
    try {
      try {
        await c.execute(
          'INSERT INTO users (id, phone, name, version, updated_at) VALUES (?, ?, ?, 1, NOW(6))',
          [u.id, u.phone, u.name],
        );
      } catch (err) {
        if ((err as { code?: string }).code === 'ER_DUP_ENTRY')
          throw new PhoneTaken(`phone ${u.phone} is already registered`);
        throw err;
      }
      const [rows] = await c.query<RowDataPacket[]>(
        '/*ez:read-your-writes*/ SELECT id, phone, name, version, updated_at FROM users WHERE id = ?',
        [u.id],
      );
      if (rows.length === 0) throw new Error(`user ${u.id} not readable right after its registration`);
      return toUser(rows[0]);
    } finally {
      c.release();
    }
  }

  async getUser(id: string): Promise<User | null> {
    const [rows] = await this.pool.execute<RowDataPacket[]>(
      'SELECT id, phone, name, version, updated_at FROM users WHERE id = ?',
      [id],
    );
    return rows.length === 0 ? null : toUser(rows[0]);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

function toUser(r: RowDataPacket): User {
  return { id: r.id, phone: r.phone, name: r.name, version: Number(r.version), updatedAt: r.updated_at };
}
