// Transaction control and session statements, read from tokens: their grammar is small and fixed,
// and node-sql-parser 5.4 cannot parse most of it (SAVEPOINT, SET NAMES, SET TRANSACTION, XA …).
import { Tok, type Token } from './lexer.js';
import { denied, type PlanContext } from './refusal.js';
import { nameOf, readHazard, wordAt } from './tokens.js';
import type { RefusedPlan, SessionPlan, TxnPlan, ValueRef } from './types.js';

/**
 * Character sets a client may switch to: ASCII-compatible, and no multi-byte character contains
 * the byte of `\`, `'`, `"` or `` ` `` — so the DAL's reading of a statement is MariaDB's. (gbk, big5,
 * sjis, cp932 … would let a trailing byte 0x5c escape a quote in MariaDB but not for the DAL.)
 */
export const SAFE_CHARSETS: ReadonlySet<string> = new Set([
  'utf8',
  'utf8mb3',
  'utf8mb4',
  'latin1',
  'ascii',
  'binary',
]);

/**
 * Session variables a client may not set, and why (docs/dal.md): they change what DRC sees or
 * replicates, how last-writer-wins orders writes, or how the DAL must read statements.
 */
export function refusedVariable(name: string): string | null {
  if (name === 'sql_log_bin' || name === 'skip_replication' || name.startsWith('binlog_'))
    return 'changes what reaches the binlog, which DRC replicates';
  if (
    name === 'server_id' ||
    name.startsWith('gtid_') ||
    name === 'pseudo_slave_mode' ||
    name === 'pseudo_replica_mode'
  )
    return "changes the origin DRC reads from the binlog (loop prevention uses the origin's server_id)";
  if (name === 'timestamp' || name === 'time_zone')
    return "changes NOW() and updated_at, which DRC's last-writer-wins compares across eZones";
  if (name === 'sql_mode')
    return 'can change how MariaDB reads statements (ANSI_QUOTES, NO_BACKSLASH_ESCAPES, PIPES_AS_CONCAT) behind the DAL; set it in the server configuration';
  if (name.startsWith('wsrep_')) return 'changes replication';
  return null;
}

const txn = (ctx: PlanContext, action: TxnPlan['action'], extra: Partial<TxnPlan> = {}): TxnPlan => ({
  kind: 'txn',
  digest: ctx.digest,
  hints: ctx.hints,
  action,
  ...extra,
});

/** BEGIN, START TRANSACTION, COMMIT, ROLLBACK [TO SAVEPOINT], SAVEPOINT, RELEASE SAVEPOINT. */
export function txnPlan(ctx: PlanContext, t: readonly Token[]): TxnPlan | RefusedPlan {
  const w0 = wordAt(t, 0);
  let i = 1;
  const word = (w: string): boolean => {
    if (wordAt(t, i) !== w) return false;
    i++;
    return true;
  };
  const end = (): boolean => i === t.length;
  const bad = (): RefusedPlan =>
    denied(
      ctx,
      `${w0} in a form the DAL does not know (expected e.g. BEGIN, START TRANSACTION READ ONLY, COMMIT, ROLLBACK TO SAVEPOINT s)`,
    );
  /** [AND [NO] CHAIN] [[NO] RELEASE] */
  const completion = (): { chain?: boolean; release?: boolean } | null => {
    const out: { chain?: boolean; release?: boolean } = {};
    if (word('AND')) {
      out.chain = !word('NO');
      if (!word('CHAIN')) return null;
    }
    if (word('NO')) {
      if (!word('RELEASE')) return null;
      out.release = false;
    } else if (word('RELEASE')) out.release = true;
    return out;
  };
  switch (w0) {
    case 'BEGIN':
      word('WORK');
      return end() ? txn(ctx, 'begin') : bad();
    case 'START': {
      if (!word('TRANSACTION')) return bad();
      let readOnly: boolean | undefined;
      while (!end()) {
        if (word('READ')) {
          if (word('ONLY')) readOnly = true;
          else if (word('WRITE')) readOnly = false;
          else return bad();
        } else if (word('WITH')) {
          if (!(word('CONSISTENT') && word('SNAPSHOT'))) return bad();
        } else return bad();
        if (!end() && t[i].kind !== Tok.Comma) return bad();
        if (!end()) i++;
      }
      return txn(ctx, 'begin', readOnly === undefined ? {} : { readOnly });
    }
    case 'COMMIT': {
      word('WORK');
      const c = completion();
      return c !== null && end() ? txn(ctx, 'commit', c) : bad();
    }
    case 'ROLLBACK': {
      word('WORK');
      if (word('TO')) {
        word('SAVEPOINT');
        const name = nameOf(t[i]);
        i++;
        return name !== null && end() ? txn(ctx, 'rollback-to-savepoint', { savepoint: name }) : bad();
      }
      const c = completion();
      return c !== null && end() ? txn(ctx, 'rollback', c) : bad();
    }
    case 'SAVEPOINT': {
      const name = nameOf(t[i]);
      i++;
      return name !== null && end() ? txn(ctx, 'savepoint', { savepoint: name }) : bad();
    }
    case 'RELEASE': {
      if (!word('SAVEPOINT')) return bad();
      const name = nameOf(t[i]);
      i++;
      return name !== null && end() ? txn(ctx, 'release-savepoint', { savepoint: name }) : bad();
    }
  }
  return bad();
}

/** USE db: the session's database from now on. */
export function planOfUse(ctx: PlanContext, t: readonly Token[]): SessionPlan | RefusedPlan {
  const db = nameOf(t[1]);
  if (db === null || t.length !== 2)
    return denied(ctx, 'USE in a form the DAL does not know (expected USE db)');
  return { kind: 'session', digest: ctx.digest, hints: ctx.hints, statement: 'USE', use: db };
}

/** Split tokens at top-level commas. */
function splitCommas(t: readonly Token[], from: number): Token[][] {
  const parts: Token[][] = [[]];
  let depth = 0;
  for (let i = from; i < t.length; i++) {
    const k = t[i].kind;
    if (k === Tok.LParen) depth++;
    else if (k === Tok.RParen) depth--;
    if (k === Tok.Comma && depth === 0) parts.push([]);
    else parts[parts.length - 1].push(t[i]);
  }
  return parts;
}

/** A charset given as a name (checked now) or a string slot (checked at bind). */
function charsetRef(ctx: PlanContext, tok: Token | undefined): ValueRef<string> | RefusedPlan {
  if (
    tok !== undefined &&
    (tok.kind === Tok.Word || tok.kind === Tok.Ident) &&
    tok.text.toUpperCase() !== 'DEFAULT'
  ) {
    const cs = tok.text.toLowerCase();
    if (!SAFE_CHARSETS.has(cs))
      return denied(
        ctx,
        `the character set ${JSON.stringify(cs.slice(0, 32))}: the DAL reads statements in ${[...SAFE_CHARSETS].join(', ')} only (a multi-byte set such as gbk can hide a quote from it)`,
      );
    return { value: cs };
  }
  // any literal (the digest does not say which kind): bind() checks the value
  if (tok !== undefined && tok.slot >= 0) return { slot: tok.slot };
  return denied(ctx, 'a character set the DAL cannot read from the statement: name it (SET NAMES utf8mb4)');
}

const isRefusedPlan = (x: unknown): x is RefusedPlan => (x as RefusedPlan)?.kind === 'refused';

/** The value of SET autocommit: a literal slot (bind() reads it), ON/OFF, TRUE/FALSE. */
function autocommitValue(ctx: PlanContext, expr: readonly Token[]): ValueRef<boolean> | RefusedPlan {
  if (expr.length === 1) {
    const e = expr[0];
    if (e.slot >= 0) return { slot: e.slot }; // any literal: bind() reads its value
    if (e.kind === Tok.Word) {
      const w = e.text.toUpperCase();
      if (w === 'ON' || w === 'TRUE') return { value: true };
      if (w === 'OFF' || w === 'FALSE') return { value: false };
    }
  }
  return denied(ctx, 'SET autocommit to a value the DAL cannot read: expected 0, 1, ON or OFF');
}

/**
 * SET: session and user variables, NAMES, CHARACTER SET, TRANSACTION (session scope). Refused:
 * global scope, the variables refusedVariable() names, PASSWORD/ROLE/STATEMENT, and autocommit
 * together with anything else (the proxy tracks transactions by it).
 */
export function setPlan(ctx: PlanContext, t: readonly Token[]): SessionPlan | TxnPlan | RefusedPlan {
  const hazard = readHazard(t);
  if (hazard !== null)
    return denied(
      ctx,
      'SET with a locking read, a file write or a SEQUENCE in its value: run it as its own statement',
    );
  const w1 = wordAt(t, 1);
  if (w1 === 'PASSWORD' || w1 === 'ROLE' || (w1 === 'DEFAULT' && wordAt(t, 2) === 'ROLE'))
    return denied(ctx, `SET ${w1}: account management is not done through the DAL`);
  if (w1 === 'STATEMENT')
    return denied(
      ctx,
      'SET STATEMENT … FOR: run the statement on its own (the DAL does not classify wrapped statements)',
    );
  const variables: string[] = [];
  const charsets: ValueRef<string>[] = [];
  let autocommit: ValueRef<boolean> | null = null;
  const parts = splitCommas(t, 1);
  for (const p of parts) {
    if (p.length === 0) return denied(ctx, 'SET with an empty assignment');
    let j = 0;
    const w = (k: number): string => wordAt(p, k);
    // scope
    let scope: 'session' | 'global' | 'user' = 'session';
    let name: string | null = null;
    const s0 = w(0);
    if (s0 === 'GLOBAL' || s0 === 'SESSION' || s0 === 'LOCAL') {
      scope = s0 === 'GLOBAL' ? 'global' : 'session';
      j = 1;
    }
    const head = p[j];
    if (head?.kind === Tok.SysVar) {
      const v = head.text.slice(2).replaceAll('`', '').toLowerCase();
      if ((v === 'global' || v === 'session' || v === 'local') && p[j + 1]?.kind === Tok.Dot) {
        if (j > 0) return denied(ctx, 'SET with two scopes');
        scope = v === 'global' ? 'global' : 'session';
        name = nameOf(p[j + 2])?.toLowerCase() ?? null;
        j += 3;
      } else {
        name = v;
        j += 1;
      }
    } else if (head?.kind === Tok.UserVar) {
      if (j > 0) return denied(ctx, 'SET with a scope before a user variable');
      scope = 'user';
      name = head.text.toLowerCase();
      j += 1;
    } else if (wordAt(p, j) === 'TRANSACTION') {
      if (scope === 'global')
        return denied(ctx, 'SET GLOBAL TRANSACTION: changes every session of the server');
      variables.push('transaction');
      continue; // ISOLATION LEVEL … / READ ONLY / READ WRITE: a session's own business
    } else if (
      wordAt(p, j) === 'NAMES' ||
      wordAt(p, j) === 'CHARSET' ||
      (wordAt(p, j) === 'CHARACTER' && wordAt(p, j + 1) === 'SET')
    ) {
      if (scope === 'global') return denied(ctx, 'SET GLOBAL: changes every session of the server');
      const k = wordAt(p, j) === 'CHARACTER' ? j + 2 : j + 1;
      const ref = charsetRef(ctx, p[k]);
      if (isRefusedPlan(ref)) return ref;
      charsets.push(ref);
      const rest = p.length - (k + 1);
      if (rest !== 0 && !(wordAt(p, j) === 'NAMES' && wordAt(p, k + 1) === 'COLLATE' && rest === 2))
        return denied(
          ctx,
          'SET NAMES in a form the DAL does not know (expected SET NAMES cs [COLLATE coll])',
        );
      variables.push(wordAt(p, j) === 'NAMES' ? 'names' : 'character set');
      continue;
    } else {
      name = nameOf(head)?.toLowerCase() ?? null;
      j += 1;
    }
    if (name === null || name === '')
      return denied(ctx, 'SET of something the DAL cannot read as a variable');
    if (scope === 'global')
      return denied(ctx, `SET GLOBAL ${name}: changes every session of the server; not done through the DAL`);
    const op = p[j];
    if (op?.kind !== Tok.Op || (op.text !== '=' && op.text !== ':=') || j + 1 >= p.length)
      return denied(ctx, `SET ${name} in a form the DAL does not know (expected name = value)`);
    const expr = p.slice(j + 1);
    if (scope === 'session') {
      const why = refusedVariable(name);
      if (why !== null) return denied(ctx, `SET ${name}: ${why}`);
      if (name === 'autocommit') {
        const v = autocommitValue(ctx, expr);
        if (isRefusedPlan(v)) return v;
        autocommit = v;
      } else if (name === 'character_set_client') {
        const ref = expr.length === 1 ? charsetRef(ctx, expr[0]) : charsetRef(ctx, undefined);
        if (isRefusedPlan(ref)) return ref;
        charsets.push(ref);
      }
    }
    variables.push(name);
  }
  if (autocommit !== null) {
    if (parts.length !== 1)
      return denied(ctx, 'SET autocommit together with other variables: set it in a statement of its own');
    return txn(ctx, 'autocommit', { autocommit });
  }
  return {
    kind: 'session',
    digest: ctx.digest,
    hints: ctx.hints,
    statement: 'SET',
    variables,
    ...(charsets.length > 0 ? { charsets } : {}),
  };
}
