/**
 * Where a backend's answer to one command ends, read as the bytes stream past (they are relayed to
 * the client unchanged, chunk by chunk): packet headers are followed and only the first bytes of
 * each payload are kept — enough for OK/ERR/EOF, column counts and a prepare's counts. Knows the
 * answer shapes of every command the DAL relays, multi-result sets included.
 */
import { COM, endStatus, isResultEnd, MAX_PACKET, parseErr, parseOk, readLenenc, STATUS } from './packets.js';

export interface ResponseSummary {
  /** status flags of the last OK/EOF (IN_TRANS, AUTOCOMMIT, …); undefined when it ended with ERR */
  status?: number;
  error?: { code: number; sqlState: string; message: string };
  /** the first OK's counts (a write's affected rows) */
  affectedRows?: number;
  lastInsertId?: number;
  /** COM_STMT_PREPARE: the statement id and its counts */
  prepared?: { id: number; columns: number; params: number };
}

type Phase =
  | 'first' // the first packet of a result (or the only packet of a one-packet answer)
  | 'defs' // column (or parameter) definitions still to come
  | 'rows'
  | 'prepare-defs'
  | 'fieldlist';

/** Bytes of each payload kept for inspection: an OK with 8-byte counts and status fits. */
const KEEP = 64;

export class ResponseTracker {
  private phase: Phase = 'first';
  private defsLeft = 0;
  /** after the definitions: an EOF packet too (no DEPRECATE_EOF) */
  private eofAfterDefs = false;
  private afterDefs: 'rows' | 'done' = 'rows';
  // the packet being read
  private headerBuf = Buffer.alloc(4);
  private headerHave = 0;
  private payloadLeft = 0;
  private payloadLength = 0;
  private keep = Buffer.alloc(KEEP);
  private keepHave = 0;
  /** the logical packet continues in the next physical one */
  private continued = false;
  private done = false;
  readonly summary: ResponseSummary = {};

  /**
   * @param command the command answered (COM_*)
   * @param deprecateEof the connection negotiated CLIENT_DEPRECATE_EOF
   * @param cursor COM_STMT_EXECUTE opened a cursor (no rows follow the definitions)
   */
  constructor(
    private readonly command: number,
    private readonly deprecateEof: boolean,
    private readonly cursor = false,
  ) {
    if (command === COM.STMT_FETCH) this.phase = 'rows';
  }

  get complete(): boolean {
    return this.done;
  }

  /** Follow `chunk`; returns how many of its bytes belong to this answer (the rest is not ours). */
  feed(chunk: Buffer): number {
    let i = 0;
    while (i < chunk.length && !this.done) {
      if (this.headerHave < 4) {
        const n = Math.min(4 - this.headerHave, chunk.length - i);
        chunk.copy(this.headerBuf, this.headerHave, i, i + n);
        this.headerHave += n;
        i += n;
        if (this.headerHave < 4) break;
        const len = this.headerBuf.readUIntLE(0, 3);
        this.payloadLeft = len;
        if (!this.continued) {
          this.payloadLength = 0;
          this.keepHave = 0;
        }
        this.payloadLength += len;
        if (len === 0) this.endOfPhysical(len);
        continue;
      }
      const n = Math.min(this.payloadLeft, chunk.length - i);
      if (this.keepHave < KEEP) {
        const k = Math.min(KEEP - this.keepHave, n);
        chunk.copy(this.keep, this.keepHave, i, i + k);
        this.keepHave += k;
      }
      this.payloadLeft -= n;
      i += n;
      if (this.payloadLeft === 0) this.endOfPhysical(this.headerBuf.readUIntLE(0, 3));
    }
    return i;
  }

  private endOfPhysical(len: number): void {
    this.headerHave = 0;
    if (len === MAX_PACKET) {
      this.continued = true;
      return;
    }
    this.continued = false;
    this.onPacket(this.keep.subarray(0, this.keepHave), this.payloadLength);
  }

  private onPacket(head: Buffer, length: number): void {
    const first = length > 0 ? head[0] : -1;
    switch (this.phase) {
      case 'first': {
        if (first === 0xff) {
          this.error(head);
          return;
        }
        if (this.command === COM.STMT_PREPARE) {
          if (first !== 0x00) {
            this.finish();
            return;
          }
          const id = head.readUInt32LE(1);
          const columns = head.readUInt16LE(5);
          const params = head.readUInt16LE(7);
          this.summary.prepared = { id, columns, params };
          const groups = (params > 0 ? 1 : 0) + (columns > 0 ? 1 : 0);
          this.defsLeft = params + columns + (this.deprecateEof ? 0 : groups);
          if (this.defsLeft === 0) {
            this.finish();
            return;
          }
          this.phase = 'prepare-defs';
          return;
        }
        if (this.command === COM.FIELD_LIST) {
          if (isResultEnd(first, length, this.deprecateEof)) {
            this.end(head);
            return;
          }
          this.phase = 'fieldlist';
          return;
        }
        if (this.command === COM.STATISTICS) {
          this.finish();
          return;
        }
        if (this.command !== COM.QUERY && this.command !== COM.STMT_EXECUTE) {
          // one-packet answers: PING, INIT_DB, STMT_RESET, RESET_CONNECTION, SET_OPTION (OK or EOF)
          if (first === 0x00 || first === 0xfe)
            this.summary.status = endStatus(head, first === 0x00 || this.deprecateEof);
          this.finish();
          return;
        }
        if (first === 0x00) {
          const ok = parseOk(head);
          this.summary.status = ok.status;
          this.summary.affectedRows ??= ok.affectedRows;
          this.summary.lastInsertId ??= ok.lastInsertId;
          if (ok.status & STATUS.MORE_RESULTS_EXISTS) return; // the next result follows
          this.finish();
          return;
        }
        if (first === 0xfb) {
          this.finish();
          return;
        }
        // a result set: the column count, then as many definitions (+ EOF), then rows
        this.defsLeft = readLenenc(head, 0).value ?? 0;
        this.eofAfterDefs = !this.deprecateEof;
        this.afterDefs = this.command === COM.STMT_EXECUTE && this.cursor ? 'done' : 'rows';
        this.phase = 'defs';
        return;
      }
      case 'defs': {
        if (this.defsLeft > 0) {
          this.defsLeft--;
          if (this.defsLeft === 0 && !this.eofAfterDefs) this.afterDefinitions();
          return;
        }
        // the EOF after the definitions
        if (first === 0xff) {
          this.error(head);
          return;
        }
        const status = endStatus(head, false);
        this.summary.status = status;
        if (this.afterDefs === 'done' || status & STATUS.CURSOR_EXISTS) {
          this.finish();
          return;
        }
        this.phase = 'rows';
        return;
      }
      case 'rows': {
        if (first === 0xff) {
          this.error(head);
          return;
        }
        if (isResultEnd(first, length, this.deprecateEof)) {
          this.end(head);
          return;
        }
        return; // a row
      }
      case 'prepare-defs': {
        this.defsLeft--;
        if (this.defsLeft === 0) this.finish();
        return;
      }
      case 'fieldlist': {
        if (first === 0xff) {
          this.error(head);
          return;
        }
        if (isResultEnd(first, length, this.deprecateEof)) {
          this.end(head);
          return;
        }
        return;
      }
    }
  }

  private afterDefinitions(): void {
    if (this.afterDefs === 'done') {
      this.finish();
      return;
    }
    this.phase = 'rows';
  }

  /** The EOF/OK that ends a result set: more results may follow. */
  private end(head: Buffer): void {
    const status = endStatus(head, this.deprecateEof);
    this.summary.status = status;
    if (status & STATUS.MORE_RESULTS_EXISTS && this.command !== COM.FIELD_LIST) {
      this.phase = 'first';
      return;
    }
    this.finish();
  }

  private error(head: Buffer): void {
    // only the first bytes are kept: the message may be cut, which is fine for logs and metrics
    this.summary.error = parseErr(head);
    this.finish();
  }

  private finish(): void {
    this.done = true;
  }
}

/** Commands the backend answers with nothing at all. */
export const NO_ANSWER = new Set<number>([COM.STMT_CLOSE, COM.STMT_SEND_LONG_DATA, COM.QUIT]);
