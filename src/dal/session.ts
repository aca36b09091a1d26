/**
 * One client connection of the DAL: its own handshake (mysql_native_password against the DAL's
 * accounts), then every command read whole, judged (statement plan → shard → the routing core's
 * write guard at the DAL's epoch) and either refused with a DESIGN §4 error or relayed to the
 * session's backend connection, whose answer streams back unchanged. Tracks the transaction (from
 * the backend's status flags), the shards it wrote, and the fence a switch puts on them.
 */
import type { Socket } from 'node:net';
import { checkWrite, type RoutingTable } from '../routing/index.js';
import { ErrorCode } from '../shared/error-codes.js';
import { type Backend, BackendError, type Sink } from './backend.js';
import type { DalContext } from './context.js';
import { decodeExecuteParams, ParamError, sqlLiteral } from './params.js';
import { newScramble, verifyNativeToken } from './protocol/auth.js';
import {
  CLIENT,
  COM,
  COM_NAMES,
  DAL_CAPABILITIES,
  errPayload,
  HANDSHAKE_ONLY,
  okPayload,
  PacketReader,
  PacketTooLarge,
  packet,
  readLenenc,
  STATUS,
} from './protocol/packets.js';
import type { ResponseSummary } from './protocol/response.js';
import {
  type Bound,
  bind,
  type LexedStatement,
  type Plan,
  type Refusal,
  type SqlValue,
  slotValues,
} from './sql/index.js';

/** MySQL's "unknown error": every DAL refusal uses it with SQLSTATE HY000 and a code word first. */
const ER_DAL = 1105;
const ER_ACCESS_DENIED = 1045;

/** Collation ids of charsets in which no multi-byte character can hide a quote (the classifier's rule). */
function safeCollation(id: number): boolean {
  return (
    id === 33 ||
    id === 83 ||
    (id >= 192 && id <= 215) ||
    id === 223 || // utf8mb3
    id === 45 ||
    id === 46 ||
    (id >= 224 && id <= 247) ||
    id === 255 || // utf8mb4
    [5, 8, 15, 31, 47, 48, 49, 94].includes(id) || // latin1
    id === 11 ||
    id === 65 || // ascii
    id === 63 // binary
  );
}

interface Prepared {
  statement: LexedStatement;
  plan: Plan;
  params: number;
  types: number[] | null;
  longData: Set<number>;
  /** the text, for running a Global-Zone write as text on the master */
  text: string;
}

/** Why a session's transaction was rolled back by a fence (told once, at its next statement). */
interface Fenced {
  shard: number;
  message: string;
}

export class DalSession {
  readonly id: number;
  private readonly reader: PacketReader;
  private caps = 0;
  private charset = 45;
  private user = '';
  database: string | null = null;
  private backend: Backend | null = null;
  private master: Backend | null = null;
  /** the backend's transaction state after the last answer */
  inTxn = false;
  autocommit = true;
  /** shards written in the open transaction (at most one: DESIGN §6) */
  readonly txnShards = new Set<number>();
  private readonly txnOrders = new Set<string>();
  /** the open transaction wrote Global-Zone rows (on the master) */
  private txnGlobal = false;
  /** the open transaction wrote local or sharded rows (here) */
  private txnHere = false;
  /** a command is being handled */
  busy = false;
  /** shards the statement in flight writes */
  readonly inflightShards = new Set<number>();
  private fenced: Fenced | null = null;
  /** a fence arrived while a command was in flight: roll back when it is done */
  fenceWhenIdle = false;
  /** Global-Zone writes since the last read-your-writes wait */
  private globalWritten = false;
  private readonly stmts = new Map<number, Prepared>();
  private closed = false;
  /** the DAL is stopping: close after the command in flight */
  private closing = false;
  private drainWaiters: (() => void)[] = [];
  private readonly sink: Sink;

  constructor(
    private readonly ctx: DalContext,
    private readonly socket: Socket,
    id: number,
  ) {
    this.id = id;
    this.reader = new PacketReader(ctx.maxPacketBytes);
    socket.setNoDelay(true);
    this.sink = {
      write: (c) => socket.write(c),
      onDrain: (fn) => {
        this.drainWaiters.push(fn);
      },
    };
    socket.on('drain', () => {
      const w = this.drainWaiters;
      this.drainWaiters = [];
      for (const f of w) f();
    });
  }

  /** The whole life of the connection; never throws (a failure closes this client only). */
  async run(): Promise<void> {
    const chunks: Buffer[] = [];
    let wake: (() => void) | null = null;
    let ended = false;
    this.socket.on('data', (c: Buffer) => {
      chunks.push(c);
      wake?.();
    });
    const end = () => {
      ended = true;
      wake?.();
    };
    this.socket.on('end', end);
    this.socket.on('close', end);
    this.socket.on('error', end);
    const nextPacket = async (): Promise<{ seq: number; payload: Buffer; frame: Buffer | null } | null> => {
      for (;;) {
        while (chunks.length > 0) this.reader.push(chunks.shift()!);
        const p = this.reader.next();
        if (p) return p;
        if (ended) return null;
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = null;
      }
    };
    try {
      if (!(await this.handshake(nextPacket))) return;
      for (;;) {
        const p = await nextPacket();
        if (!p || this.closed) return;
        if (p.payload.length === 0) continue;
        // a command starts a new exchange (sequence 0): forward the client's own bytes then
        const quit = await this.command(p.payload, p.seq === 0 ? p.frame : null);
        if (quit) return;
      }
    } catch (err) {
      if (err instanceof PacketTooLarge) {
        this.ctx.metrics.refusal('EZ_PACKET_TOO_LARGE');
        this.write((err.seq + 1) & 0xff, errPayload(1153, '08S01', `EZ_DENIED ${err.message}`));
      } else if (err instanceof BackendError) {
        // this eZone's MariaDB went away mid-command: the client hears it as an error, then the
        // connection closes (its transaction, if any, is gone with the backend's)
        this.ctx.metrics.backendError();
        this.ctx.log.warn({ session: this.id, err: err.message }, 'backend connection lost');
        this.write(
          1,
          errPayload(
            ER_DAL,
            'HY000',
            `EZ_UNAVAILABLE lost the connection to this eZone's MariaDB (${err.message}); reconnect and retry`,
          ),
        );
      } else {
        this.ctx.log.warn({ session: this.id, err: (err as Error).message }, 'client session failed');
      }
    } finally {
      await this.close();
    }
  }

  private write(seq: number, payload: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(packet(seq, payload));
  }

  private refuse(code: string, message: string, seq = 1): void {
    this.ctx.metrics.refusal(code);
    this.write(seq, errPayload(ER_DAL, 'HY000', message));
  }

  private async handshake(next: () => Promise<{ seq: number; payload: Buffer } | null>): Promise<boolean> {
    const scramble = newScramble();
    const server = this.ctx.server;
    const caps = (DAL_CAPABILITIES & server.capabilities) | CLIENT.PROTOCOL_41 | CLIENT.PLUGIN_AUTH;
    const head = Buffer.alloc(1);
    head[0] = 10;
    const version = Buffer.from(`${server.version}-ezdal\0`, 'latin1');
    const g = Buffer.alloc(4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10);
    let o = 0;
    g.writeUInt32LE(this.id, o);
    o += 4;
    scramble.copy(g, o, 0, 8);
    o += 9;
    g.writeUInt16LE(caps & 0xffff, o);
    o += 2;
    g[o++] = server.charset;
    g.writeUInt16LE(STATUS.AUTOCOMMIT, o);
    o += 2;
    g.writeUInt16LE((caps >>> 16) & 0xffff, o);
    o += 2;
    g[o++] = 21;
    const greeting = Buffer.concat([
      head,
      version,
      g,
      scramble.subarray(8, 20),
      Buffer.from([0]),
      Buffer.from('mysql_native_password\0'),
    ]);
    this.write(0, greeting);

    const r = await next();
    if (!r) return false;
    const p = r.payload;
    if (p.length < 32) {
      this.write(
        r.seq + 1,
        errPayload(1043, '08S01', 'EZ_DENIED bad handshake (TLS and old clients are not supported)'),
      );
      return false;
    }
    let clientCaps = p.readUInt32LE(0);
    if (clientCaps & CLIENT.SSL) {
      this.write(
        r.seq + 1,
        errPayload(1043, '08S01', 'EZ_DENIED the DAL does not speak TLS on its client port'),
      );
      return false;
    }
    this.charset = p[8];
    let off = 32;
    const uEnd = p.indexOf(0, off);
    if (uEnd < 0) return false;
    this.user = p.toString('utf8', off, uEnd);
    off = uEnd + 1;
    let token: Buffer;
    if (clientCaps & CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA) {
      const len = readLenenc(p, off);
      token = p.subarray(off + len.bytes, off + len.bytes + (len.value ?? 0));
      off += len.bytes + (len.value ?? 0);
    } else if (clientCaps & CLIENT.SECURE_CONNECTION) {
      token = p.subarray(off + 1, off + 1 + p[off]);
      off += 1 + p[off];
    } else {
      const e = p.indexOf(0, off);
      token = p.subarray(off, e < 0 ? p.length : e);
      off = e < 0 ? p.length : e + 1;
    }
    if (clientCaps & CLIENT.CONNECT_WITH_DB && off < p.length) {
      const e = p.indexOf(0, off);
      this.database = p.toString('utf8', off, e < 0 ? p.length : e);
      off = e < 0 ? p.length : e + 1;
    }
    let plugin = 'mysql_native_password';
    if (clientCaps & CLIENT.PLUGIN_AUTH && off < p.length) {
      const e = p.indexOf(0, off);
      plugin = p.toString('latin1', off, e < 0 ? p.length : e);
    }
    let seq = r.seq + 1;
    if (plugin !== 'mysql_native_password') {
      // ask for the plugin the DAL speaks (MySQL 8 clients default to caching_sha2_password)
      this.write(
        seq,
        Buffer.concat([
          Buffer.from([0xfe]),
          Buffer.from('mysql_native_password\0'),
          scramble,
          Buffer.from([0]),
        ]),
      );
      const again = await next();
      if (!again) return false;
      token = again.payload;
      seq = again.seq + 1;
    }
    const account = this.ctx.accounts.get(this.user);
    if (!account || !verifyNativeToken(token, scramble, account.hash)) {
      this.ctx.metrics.refusal('EZ_ACCESS_DENIED');
      this.write(
        seq,
        errPayload(
          ER_ACCESS_DENIED,
          '28000',
          `Access denied for user '${this.user}'@'${this.socket.remoteAddress ?? '?'}' (using password: ${token.length > 0 ? 'YES' : 'NO'})`,
        ),
      );
      return false;
    }
    if (!safeCollation(this.charset)) {
      this.write(
        seq,
        errPayload(
          ER_DAL,
          'HY000',
          `EZ_DENIED character set id ${this.charset} is not supported by the DAL (use utf8mb4, utf8, latin1, ascii or binary)`,
        ),
      );
      return false;
    }
    this.caps = (clientCaps & caps) >>> 0;
    clientCaps = this.caps;
    try {
      this.backend = await this.ctx.openBackend({
        capabilities: this.caps & ~HANDSHAKE_ONLY,
        charset: this.charset,
        database: this.database,
      });
    } catch (err) {
      const server = err instanceof BackendError ? err.server : undefined;
      if (server) {
        // MariaDB's own answer (unknown database, no access to it): what a direct client sees
        this.write(seq, errPayload(server.code, server.sqlState, server.message));
        return false;
      }
      this.ctx.metrics.refusal(ErrorCode.unavailable);
      this.write(
        seq,
        errPayload(
          ER_DAL,
          'HY000',
          `EZ_UNAVAILABLE cannot reach this eZone's MariaDB: ${(err as Error).message}; retry`,
        ),
      );
      return false;
    }
    this.status(this.backend.status);
    this.write(
      seq,
      okPayload({ affectedRows: 0, lastInsertId: 0, status: this.backend.status, warnings: 0 }),
    );
    return true;
  }

  private status(flags: number): void {
    const was = this.inTxn;
    this.inTxn = (flags & STATUS.IN_TRANS) !== 0;
    this.autocommit = (flags & STATUS.AUTOCOMMIT) !== 0;
    if (!this.inTxn) {
      this.txnShards.clear();
      this.txnOrders.clear();
      this.txnGlobal = false;
      this.txnHere = false;
    }
    if (was !== this.inTxn) this.ctx.onSessionChange(this);
  }

  /** Handle one command; true when the client quit. */
  private async command(payload: Buffer, frame: Buffer | null): Promise<boolean> {
    const code = payload[0];
    const full = frame ?? packet(0, payload);
    this.busy = true;
    try {
      // a transaction a fence rolled back says so, once, before anything else
      if (this.fenced && code !== COM.QUIT && code !== COM.PING && code !== COM.STMT_CLOSE) {
        const f = this.fenced;
        this.fenced = null;
        this.refuse('EZ_LOCKED', f.message);
        return false;
      }
      switch (code) {
        case COM.QUIT:
          return true;
        case COM.QUERY:
          await this.query(payload, full);
          return false;
        case COM.STMT_PREPARE:
          await this.prepare(payload, full);
          return false;
        case COM.STMT_EXECUTE:
          await this.execute(payload, full);
          return false;
        case COM.STMT_SEND_LONG_DATA: {
          const st = this.stmts.get(payload.readUInt32LE(1));
          st?.longData.add(payload.readUInt16LE(5));
          this.backend!.send(full);
          return false;
        }
        case COM.STMT_CLOSE:
          this.stmts.delete(payload.readUInt32LE(1));
          this.backend!.send(full);
          return false;
        case COM.STMT_RESET: {
          const st = this.stmts.get(payload.readUInt32LE(1));
          st?.longData.clear();
          await this.relay(full, code);
          return false;
        }
        case COM.INIT_DB: {
          const db = payload.toString('utf8', 1);
          const s = await this.relay(full, code);
          if (!s.error) this.database = db;
          return false;
        }
        case COM.PING:
        case COM.FIELD_LIST:
        case COM.STATISTICS:
        case COM.SET_OPTION:
        case COM.STMT_FETCH:
          await this.relay(full, code);
          return false;
        case COM.RESET_CONNECTION: {
          const s = await this.relay(full, code);
          if (!s.error) {
            this.stmts.clear();
            this.master?.destroy();
            this.master = null;
          }
          return false;
        }
        default:
          this.refuse(
            ErrorCode.denied,
            `EZ_DENIED ${COM_NAMES[code] ?? `command 0x${code.toString(16)}`} is not supported through the DAL`,
          );
          return false;
      }
    } finally {
      this.busy = false;
      this.inflightShards.clear();
      if (this.fenceWhenIdle) {
        this.fenceWhenIdle = false;
        await this.ctx.fence(this);
      }
      this.ctx.onSessionChange(this);
      if (this.closing) await this.close();
    }
  }

  /** The DAL is stopping: close now if idle, else right after the command in flight. */
  shutdown(): void {
    this.closing = true;
    if (!this.busy) void this.close();
  }

  private async relay(full: Buffer, code: number, cursor = false): Promise<ResponseSummary> {
    const s = await this.backend!.relay(full, code, this.sink, { cursor });
    if (s.status !== undefined) this.status(s.status);
    if (s.error) this.ctx.metrics.backendError();
    return s;
  }

  // ---- text queries -------------------------------------------------------------------------

  private async query(payload: Buffer, full: Buffer): Promise<void> {
    const text = payload.toString('utf8', 1);
    const t0 = this.ctx.metrics.shouldTime() ? performance.now() : -1;
    const classified = this.ctx.classifier.classifyText(text, { database: this.database });
    if (classified.refused) return this.refusal(classified.refused);
    const only = classified.statements.length === 1 ? classified.statements[0].plan : null;
    if (only?.kind === 'read' && only.hints.length === 0) {
      // the hot path: one plain read, nothing to bind, judge or wait for
      if (t0 >= 0) this.ctx.metrics.classified(performance.now() - t0);
      await this.relay(full, COM.QUERY);
      this.ctx.metrics.statement('read');
      return;
    }
    const decisions: Bound[] = [];
    for (const { statement, plan } of classified.statements) {
      const d = this.judge(plan, slotValues(statement));
      if ('refused' in d) return;
      decisions.push(d.bound);
    }
    if (t0 >= 0) this.ctx.metrics.classified(performance.now() - t0);
    const global = decisions.some((d) => d.global);
    if (global) {
      if (decisions.length > 1)
        return this.refuse(
          ErrorCode.denied,
          'EZ_DENIED a Global-Zone write must be sent as its own statement (not in a multi-statement text)',
        );
      if (this.ctx.isMaster) {
        // the master writes its Global-Zone rows itself
      } else return this.globalWrite(text, decisions[0]);
    }
    if (
      !(await this.beforeForwarding(
        decisions,
        classified.statements.map((s) => s.plan),
      ))
    )
      return;
    const s = await this.relay(full, COM.QUERY);
    this.afterAnswer(decisions, s);
    if (
      !s.error &&
      classified.database !== this.database &&
      classified.statements.some((x) => x.plan.kind === 'session')
    )
      this.database = classified.database;
  }

  /** Bind and check one statement; refuses (and answers) when it may not run here now. */
  private judge(plan: Plan, values: readonly (SqlValue | undefined)[]): { bound: Bound } | { refused: true } {
    if (plan.kind === 'refused') {
      this.refusal(plan.refusal);
      return { refused: true };
    }
    const b = bind(plan, values);
    if (!b.ok) {
      this.refusal(b.refusal);
      return { refused: true };
    }
    if (plan.kind !== 'write' && plan.kind !== 'ddl') return { bound: b };
    // writes: the DAL must know GZS's current table first (DESIGN §6; after a restart)
    if (!this.ctx.ready()) {
      this.refuseLogged(
        ErrorCode.notReady,
        `EZ_NOT_READY epoch=${this.ctx.epoch} (the DAL has not yet received GZS's current routing table; retry)`,
        plan,
        b.shard,
      );
      return { refused: true };
    }
    if (b.shard !== null) {
      const table = this.ctx.table;
      const shardWide = b.targets.some((t) => t.kind === 'sharded' && t.orderIds === null);
      const orders = b.targets.flatMap((t) => t.orderIds ?? []);
      for (const orderId of orders.length > 0 ? orders : [undefined]) {
        const v = checkWrite(table, this.ctx.zone, b.shard, orderId);
        if (!v.ok) {
          // a shard the table does not list has no owner here: a wrong-zone write (re-route it)
          const message =
            v.code === 'EZ_UNKNOWN_SHARD'
              ? `EZ_WRONG_ZONE shard=${b.shard} owner=none local=${this.ctx.zone} epoch=${v.epoch} (the shard is not in the routing table)`
              : v.message;
          this.refuseLogged(
            v.code === 'EZ_UNKNOWN_SHARD' ? ErrorCode.wrongZone : v.code,
            message,
            plan,
            b.shard,
          );
          return { refused: true };
        }
      }
      // a statement that may touch any order of the shard, while one of them is locked
      const locked = shardWide ? this.ctx.lockedOrderOf(table, b.shard) : undefined;
      if (locked !== undefined) {
        this.refuseLogged(
          ErrorCode.locked,
          `EZ_LOCKED shard=${b.shard} epoch=${table.epoch} (${locked}; a statement that names no order id may touch a locked order: write by id, or retry once released)`,
          plan,
          b.shard,
        );
        return { refused: true };
      }
      if (this.inTxn && this.txnShards.size > 0 && !this.txnShards.has(b.shard)) {
        const other = [...this.txnShards][0];
        this.refuseLogged(
          ErrorCode.crossShard,
          `EZ_CROSS_SHARD shard=${b.shard} txn-shard=${other} (one transaction writes one shard; commit first)`,
          plan,
          b.shard,
        );
        return { refused: true };
      }
      // in flight from the moment it was judged (same tick): a fence arriving later waits for it
      this.inflightShards.add(b.shard);
    }
    if (this.inTxn && ((b.global && !this.ctx.isMaster && this.txnHere) || (!b.global && this.txnGlobal))) {
      this.refuse(
        ErrorCode.crossShard,
        'EZ_CROSS_SHARD the transaction mixes Global-Zone rows (written in the master eZone) and rows of this eZone',
      );
      return { refused: true };
    }
    return { bound: b };
  }

  /** Refuse a judged statement and log it: code, shard, digest — never a literal value. */
  private refuseLogged(code: string, message: string, plan: Plan, shard: number | null): void {
    this.ctx.log.info(
      { session: this.id, code, shard, digest: plan.digest, epoch: this.ctx.epoch },
      'statement refused',
    );
    this.refuse(code, message);
  }

  private refusal(r: Refusal): void {
    this.ctx.log.info(
      { session: this.id, code: r.code, table: r.table, reason: r.reason, digest: r.digest },
      'statement refused',
    );
    this.refuse(r.code, r.message);
  }

  /**
   * Commit points (COMMIT, or a statement that commits implicitly) of a transaction that wrote a
   * shard which the newest table locks or moved away: roll it back and refuse (DESIGN §6 step 1).
   * Marks the shards the statements are about to write as in flight (the fence waits for them).
   */
  private async beforeForwarding(decisions: Bound[], plans: Plan[]): Promise<boolean> {
    for (let i = 0; i < plans.length; i++) {
      const plan = plans[i];
      const commits =
        (plan.kind === 'txn' &&
          (plan.action === 'commit' ||
            plan.action === 'begin' ||
            (plan.action === 'autocommit' && decisions[i].autocommit === true))) ||
        plan.kind === 'ddl';
      if (commits && this.inTxn && !(await this.commitAllowed())) return false;
      if (plan.kind === 'txn' && plan.action === 'commit' && this.txnGlobal && this.master) {
        // the Global-Zone part commits in the master first
        const r = await this.master.query('COMMIT');
        if ('err' in r) {
          this.refuse(
            ErrorCode.globalUnavailable,
            `EZ_GLOBAL_UNAVAILABLE the master's COMMIT failed: ${r.err.message}`,
          );
          return false;
        }
        this.globalWritten = true;
        this.txnGlobal = false;
      }
      if (plan.kind === 'txn' && plan.action === 'rollback' && this.txnGlobal && this.master) {
        await this.master.query('ROLLBACK').catch(() => undefined);
        this.txnGlobal = false;
      }
    }
    // a read that asks for read-your-writes waits for the session's Global-Zone writes
    if (
      decisions.some((d) => d.plan.kind === 'read' && d.plan.hints.includes('read-your-writes')) &&
      !(await this.waitForGlobalWrites())
    )
      return false;
    if (this.inflightShards.size > 0) this.ctx.onSessionChange(this);
    return true;
  }

  private async commitAllowed(): Promise<boolean> {
    if (this.txnShards.size === 0) return true; // order locks live in shards too
    const table = this.ctx.table;
    for (const s of this.txnShards) {
      const v = checkWrite(table, this.ctx.zone, s);
      if (!v.ok) {
        await this.rollbackBackend();
        this.refuse(
          v.code === 'EZ_WRONG_ZONE' ? ErrorCode.wrongZone : ErrorCode.locked,
          `${v.message}; the transaction was rolled back (a switch locked or moved its shard before it committed)`,
        );
        return false;
      }
    }
    for (const orderId of this.txnOrders) {
      const s = [...this.txnShards][0];
      if (s === undefined) break;
      const v = checkWrite(table, this.ctx.zone, s, orderId);
      if (!v.ok) {
        await this.rollbackBackend();
        this.refuse(ErrorCode.locked, `${v.message}; the transaction was rolled back`);
        return false;
      }
    }
    return true;
  }

  private async rollbackBackend(): Promise<void> {
    const r = await this.backend!.query('ROLLBACK');
    if ('ok' in r) this.status(r.ok.status);
    if (this.master && this.txnGlobal) await this.master.query('ROLLBACK').catch(() => undefined);
  }

  private afterAnswer(decisions: Bound[], s: ResponseSummary): void {
    for (const d of decisions) {
      if (d.plan.kind === 'write' || d.plan.kind === 'ddl') {
        this.ctx.metrics.statement(d.plan.kind === 'write' ? d.plan.statement.toLowerCase() : 'ddl');
        if (this.inTxn) {
          if (d.shard !== null) this.txnShards.add(d.shard);
          for (const t of d.targets) for (const id of t.orderIds ?? []) this.txnOrders.add(id);
          if (!d.global || this.ctx.isMaster) this.txnHere = true;
        }
      } else this.ctx.metrics.statement(d.plan.kind);
    }
    if (s.error) return;
  }

  /** A fence: roll back this session's open transaction now (it is idle) and tell it at its next statement. */
  async fenceNow(shard: number, reason: string): Promise<void> {
    if (!this.inTxn || !this.backend) return;
    this.ctx.log.info({ session: this.id, shard, reason }, 'fence: open transaction rolled back');
    await this.rollbackBackend().catch(() => undefined);
    this.fenced = {
      shard,
      message: `EZ_LOCKED shard=${shard} (${reason}: the open transaction that wrote it was rolled back; retry it)`,
    };
    this.ctx.metrics.fenced();
  }

  // ---- prepared statements -------------------------------------------------------------------

  private async prepare(payload: Buffer, full: Buffer): Promise<void> {
    const text = payload.toString('utf8', 1);
    const classified = this.ctx.classifier.classifyText(text, { database: this.database });
    if (classified.refused) return this.refusal(classified.refused);
    if (classified.statements.length !== 1)
      return this.refuse(ErrorCode.denied, 'EZ_DENIED a prepared statement must be one statement');
    const { statement, plan } = classified.statements[0];
    if (plan.kind === 'refused') return this.refusal(plan.refusal);
    const s = await this.relay(full, COM.STMT_PREPARE);
    if (s.prepared)
      this.stmts.set(s.prepared.id, {
        statement,
        plan,
        params: s.prepared.params,
        types: null,
        longData: new Set(),
        text,
      });
  }

  private async execute(payload: Buffer, full: Buffer): Promise<void> {
    const id = payload.readUInt32LE(1);
    const st = this.stmts.get(id);
    if (!st) {
      // unknown to the DAL: the backend answers its own "unknown prepared statement" error
      await this.relay(full, COM.STMT_EXECUTE);
      return;
    }
    if (st.plan.kind === 'read' && st.plan.hints.length === 0) {
      // the hot path: a plain read passes whatever its parameters are (nothing to decode or judge)
      await this.relay(full, COM.STMT_EXECUTE, (payload[5] & 0x07) !== 0);
      this.ctx.metrics.statement('read');
      return;
    }
    let values: SqlValue[];
    let flags = 0;
    try {
      const d = decodeExecuteParams(payload, st.params, st.types);
      values = d.values;
      flags = d.flags;
      st.types = d.types ?? st.types;
    } catch (err) {
      if (!(err instanceof ParamError)) throw err;
      return this.refuse(
        ErrorCode.denied,
        `EZ_DENIED cannot read the statement's parameters: ${err.message}`,
      );
    }
    // a parameter sent as long data has no value the DAL saw: bind() refuses it as a shard key
    const params = values.map((v, i) => (st.longData.has(i) ? undefined : v)) as SqlValue[];
    const slotted = slotValues(st.statement, params);
    const j = this.judge(st.plan, slotted);
    if ('refused' in j) return;
    if (j.bound.global && !this.ctx.isMaster) return this.globalWrite(interpolate(st, values), j.bound);
    if (!(await this.beforeForwarding([j.bound], [st.plan]))) return;
    const s = await this.relay(full, COM.STMT_EXECUTE, (flags & 0x07) !== 0);
    this.afterAnswer([j.bound], s);
  }

  // ---- Global Zone ----------------------------------------------------------------------------

  /** A Global-Zone write from a non-master eZone: run on the master's MariaDB, answer its OK/ERR. */
  private async globalWrite(sql: string, bound: Bound): Promise<void> {
    if (this.inTxn && this.txnHere)
      return this.refuse(
        ErrorCode.crossShard,
        'EZ_CROSS_SHARD the transaction mixes Global-Zone rows (written in the master eZone) and rows of this eZone',
      );
    const t0 = performance.now();
    try {
      if (!this.master?.alive) this.master = await this.ctx.openMaster(this.charset);
      if (this.inTxn && !this.txnGlobal) {
        const b = await this.master.query('START TRANSACTION');
        if ('err' in b) throw new BackendError(b.err.message, b.err.code);
      }
      const r = await this.master.query(sql);
      this.ctx.metrics.global(performance.now() - t0);
      if ('err' in r) {
        this.write(1, errPayload(r.err.code, r.err.sqlState, r.err.message));
        return;
      }
      if (this.inTxn) this.txnGlobal = true;
      else this.globalWritten = true;
      const ok = 'ok' in r ? r.ok : { affectedRows: 0, lastInsertId: 0, status: 0, warnings: 0 };
      this.ctx.metrics.statement(
        bound.plan.kind === 'write' ? `global-${bound.plan.statement.toLowerCase()}` : 'global',
      );
      this.write(1, okPayload({ ...ok, status: this.backend!.status }));
    } catch (err) {
      this.master?.destroy();
      this.master = null;
      this.refuse(
        ErrorCode.globalUnavailable,
        `EZ_GLOBAL_UNAVAILABLE the Global-Zone master ${this.ctx.masterZone} cannot be reached (${(err as Error).message}); retry`,
      );
    }
  }

  /**
   * Read-your-writes (a `/*ez:read-your-writes*\/` hint on the read): wait,
   * bounded, until this eZone's DRC checkpoint from the master covers this session's last
   * Global-Zone write (the master's @@last_gtid); else refuse naming what it waited for.
   */
  private async waitForGlobalWrites(): Promise<boolean> {
    if (!this.globalWritten || !this.master?.alive) return true;
    const r = await this.master.query('SELECT @@last_gtid');
    const gtid = 'row' in r ? (r.row[0] ?? '') : '';
    const m = /^(\d+)-(\d+)-(\d+)$/.exec(gtid);
    if (!m) return true;
    const ok = await this.ctx.waitReplicated(BigInt(m[3]));
    if (!ok) {
      this.refuse(
        ErrorCode.globalUnavailable,
        `EZ_GLOBAL_UNAVAILABLE read-your-writes: ${this.ctx.zone} has not yet applied ${gtid} from ${this.ctx.masterZone} within ${this.ctx.rywTimeoutMs} ms; retry`,
      );
      return false;
    }
    this.globalWritten = false;
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    const b = this.backend;
    this.backend = null;
    this.master?.destroy();
    this.ctx.onSessionClosed(this);
    if (b) await this.ctx.releaseBackend(b, this.inTxn, this.database);
  }
}

/** A prepared Global-Zone write as text: its `?` replaced by the parameters as SQL literals. */
function interpolate(st: Prepared, values: readonly SqlValue[]): string {
  let out = '';
  let at = 0;
  for (const tok of st.statement.tokens) {
    if (tok.slot < 0 || st.statement.slots[tok.slot].kind !== 'param') continue;
    out += st.text.slice(at, tok.start) + sqlLiteral(values[st.statement.slots[tok.slot].param] ?? null);
    at = tok.end;
  }
  return out + st.text.slice(at);
}

export type { RoutingTable };
