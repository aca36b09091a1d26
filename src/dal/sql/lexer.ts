/**
 * The DAL's SQL lexer: MariaDB tokens, a text split into statements at top-level `;`, and per
 * statement a digest (literals → `?`), the literal values in order and the `/*ez:…*\/` hints.
 * Hand-written because every statement passes through it (a parse costs ~50–400 µs, this ~0.5–2 µs).
 */
import { CHARSETS, MAX_RESERVED_LENGTH, RESERVED_WORDS } from './keywords.js';

// Where MariaDB's own lexer and this one could disagree, this one follows MariaDB 10.11 as observed
// against a real server (docs/dal.md, "Statements"): a statement must mean the same to both, or a
// write could pass for a shard it does not touch. Whatever it cannot read with certainty becomes the
// statement's `problem`, and the classifier refuses the statement (EZ_DENIED).

export const Tok = {
  /** unquoted identifier or keyword */
  Word: 1,
  /** `backticked` identifier */
  Ident: 2,
  /** '…', "…", N'…', _charset'…' (adjacent strings concatenated, as MariaDB does) */
  String: 3,
  Number: 4,
  /** X'…', 0x… */
  Hex: 5,
  /** b'…', 0b… */
  Bit: 6,
  /** `?` */
  Param: 7,
  /** @name, @'name' */
  UserVar: 8,
  /** @@name (a scope such as `@@session` is followed by a Dot and a Word) */
  SysVar: 9,
  Op: 10,
  LParen: 11,
  RParen: 12,
  Comma: 13,
  Dot: 14,
} as const;
export type TokKind = (typeof Tok)[keyof typeof Tok];

export interface Token {
  readonly kind: TokKind;
  /** offsets in the whole text */
  readonly start: number;
  readonly end: number;
  /** Word: as written; Ident: the name, unescaped; Op and punctuation: the operator; vars: as written; literals: '' */
  readonly text: string;
  /** Word: a MariaDB reserved word */
  readonly reserved: boolean;
  /** literals and `?`: index into the statement's `slots`; -1 otherwise */
  readonly slot: number;
}

/** A value bound to a literal position: number literals stay decimal text (ids exceed 2^53). */
export type SqlValue = string | number | bigint | null | Uint8Array;

export type SlotKind = 'string' | 'number' | 'hex' | 'bit' | 'param';

/** A literal position of a statement: a literal of the text or a `?` placeholder. */
export interface Slot {
  readonly kind: SlotKind;
  /** string: decoded; number: its text; hex/bit: the bytes; param: null (bound at execution) */
  readonly value: SqlValue;
  /** the digits of a number, hex or bit literal as written ('' for strings and params) */
  readonly raw: string;
  /** param: its 0-based index among the statement's `?`; -1 otherwise */
  readonly param: number;
}

export type Hint = 'allow-ddl' | 'read-your-writes';
export const HINTS: readonly Hint[] = ['allow-ddl', 'read-your-writes'];

export interface LexedStatement {
  /** the statement's span in the text: from after the previous `;` to before its own */
  readonly start: number;
  readonly end: number;
  readonly tokens: readonly Token[];
  /**
   * ProxySQL-style digest: literals and `?` as `?`, comments and whitespace normalized away,
   * reserved words and the first word upper-cased, hints first as `/*ez:…*\/`. Equal digests have
   * equal plans; a digest never contains a literal value, so it may be logged.
   */
  readonly digest: string;
  readonly slots: readonly Slot[];
  readonly paramCount: number;
  readonly hints: readonly Hint[];
  /** why the statement cannot be read with certainty (then it extends to the end of the text) */
  readonly problem: string | null;
}

export interface LexOptions {
  /**
   * MariaDB's version id (10.11.19 → 101119, see mariadbVersionId), from the server handshake:
   * decides whether `/*!NNNNNN …*\/` runs. Unknown (null, the default): such a comment is a problem.
   */
  serverVersion?: number | null;
}

/** '10.11.19-MariaDB-0+deb12u1' → 101119; null when the text is not a version. */
export function mariadbVersionId(version: string): number | null {
  const m = /^(\d{1,2})\.(\d{1,2})\.(\d{1,2})/.exec(version);
  return m ? Number(m[1]) * 10000 + Number(m[2]) * 100 + Number(m[3]) : null;
}

// Character classes (ASCII): MariaDB's whitespace (my_isspace) and unquoted identifier characters.
const WS = 1;
const ID = 2;
const DIGIT = 4;
const HEXD = 8;
const CLASS = new Uint8Array(128);
for (const c of [9, 10, 11, 12, 13, 32]) CLASS[c] = WS;
for (let c = 48; c <= 57; c++) CLASS[c] = ID | DIGIT | HEXD;
for (let c = 65; c <= 90; c++) CLASS[c] = ID;
for (let c = 97; c <= 122; c++) CLASS[c] = ID;
for (const c of 'abcdefABCDEF') CLASS[c.charCodeAt(0)] |= HEXD;
CLASS[95] = ID; // _
CLASS[36] = ID; // $
/** identifier character: ASCII letters, digits, _ $ and everything from U+0080 (as MariaDB) */
const isId = (c: number): boolean => c >= 128 || (CLASS[c] & ID) !== 0;
const isDigit = (c: number): boolean => c < 128 && (CLASS[c] & DIGIT) !== 0;

const Q1 = 39; // '
const Q2 = 34; // "
const BT = 96; // `

/** Compound statements (MariaDB runs IF/CASE/LOOP/… outside stored programs too): never split. */
const COMPOUND_FIRST = new Set(['IF', 'CASE', 'LOOP', 'WHILE', 'REPEAT', 'FOR', 'DECLARE']);

interface MutToken {
  kind: TokKind;
  start: number;
  end: number;
  text: string;
  reserved: boolean;
  slot: number;
}

interface MutSlot {
  kind: SlotKind;
  value: SqlValue;
  raw: string;
  param: number;
}

/** Decode a quoted string's body with MariaDB's backslash escapes and doubled quotes. */
function unescapeString(body: string, quote: number): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c === 92 && i + 1 < body.length) {
      const n = body[++i];
      switch (n) {
        case '0':
          out += '\0';
          break;
        case 'b':
          out += '\b';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'Z':
          out += '\x1a';
          break;
        case '%':
        case '_':
          out += `\\${n}`; // MariaDB keeps the backslash: these are LIKE escapes
          break;
        default:
          out += n;
      }
    } else if (c === quote) {
      out += body[i];
      i++; // a doubled quote: one quote
    } else {
      out += body[i];
    }
  }
  return out;
}

function hexBytes(digits: string): Uint8Array {
  const padded = digits.length % 2 === 1 ? `0${digits}` : digits;
  const out = new Uint8Array(padded.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(padded.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function bitBytes(digits: string): Uint8Array {
  const n = Math.ceil(digits.length / 8) || 1;
  const out = new Uint8Array(n);
  let bit = 0;
  for (let i = digits.length - 1; i >= 0; i--, bit++)
    if (digits.charCodeAt(i) === 49) out[n - 1 - (bit >> 3)] |= 1 << (bit & 7);
  return out;
}

/** The hints a comment body carries (`ez:allow-ddl`, `ez:read-your-writes`), or a problem. */
function hintsOf(body: string, into: Set<Hint>): string | null {
  const b = body.trim();
  if (!b.startsWith('ez:')) return null;
  for (const name of b.slice(3).split(/[\s,]+/)) {
    if (name === '') continue;
    if (!(HINTS as readonly string[]).includes(name))
      return `unknown hint ez:${name.slice(0, 40)} (known: ${HINTS.map((h) => `ez:${h}`).join(', ')})`;
    into.add(name as Hint);
  }
  return null;
}

/**
 * Lex a text (one COM_QUERY, possibly several statements) into statements. Never throws: what it
 * cannot read becomes the `problem` of the statement it is in.
 */
export function lexSql(text: string, options: LexOptions = {}): LexedStatement[] {
  const serverVersion = options.serverVersion ?? null;
  const n = text.length;
  const out: LexedStatement[] = [];

  let i = 0;
  // the statement being built
  let stStart = 0;
  let tokens: MutToken[] = [];
  let slots: MutSlot[] = [];
  let params = 0;
  let digest = '';
  let prevKind = 0;
  let hints: Set<Hint> | null = null;
  let problem: string | null = null;
  let compound = false;
  let firstUpper = '';
  // a `_charset` introducer waiting for its string (its start offset), -1 when none
  let introducer = -1;
  // inside an executed `/*! … */`
  let versioned = false;
  // the previous token was a `.` after a name: the next name may start with a digit (t.1col)
  let afterDot = false;

  const fail = (why: string): void => {
    if (problem === null) problem = why;
  };

  // the digest must tell different token sequences apart: one space between tokens, none before
  // `,` `)` and none after `(`; a `.` is tight only where it qualifies a name (t.c, @@session.x)
  let prevTightDot = false;
  const push = (
    kind: TokKind,
    start: number,
    end: number,
    tokText: string,
    piece: string,
    reserved = false,
  ) => {
    const tok: MutToken = { kind, start, end, text: tokText, reserved, slot: -1 };
    tokens.push(tok);
    const tightDot =
      kind === Tok.Dot && (prevKind === Tok.Word || prevKind === Tok.Ident || prevKind === Tok.SysVar);
    if (digest.length > 0 && kind !== Tok.Comma && kind !== Tok.RParen && !tightDot)
      if (prevKind !== Tok.LParen && !prevTightDot) digest += ' ';
    digest += piece;
    prevKind = kind;
    prevTightDot = tightDot;
    return tok;
  };

  const pushLiteral = (kind: TokKind, start: number, end: number, slot: MutSlot) => {
    const tok = push(kind, start, end, '', '?');
    tok.slot = slots.length;
    slots.push(slot);
  };

  const finish = (end: number): void => {
    if (introducer >= 0) fail('a character set introducer (_charset) without a string after it');
    if (tokens.length > 0 || problem !== null) {
      const h = hints === null ? [] : HINTS.filter((x) => hints!.has(x));
      out.push({
        start: stStart,
        end,
        tokens,
        digest: h.length > 0 ? `/*ez:${h.join(',')}*/ ${digest}` : digest,
        slots,
        paramCount: params,
        hints: h,
        problem,
      });
    }
    tokens = [];
    slots = [];
    params = 0;
    digest = '';
    prevKind = 0;
    prevTightDot = false;
    hints = null;
    problem = null;
    compound = false;
    firstUpper = '';
    introducer = -1;
    afterDot = false;
  };

  while (i < n && problem === null) {
    const c = text.charCodeAt(i);

    if (c < 128 && (CLASS[c] & WS) !== 0) {
      i++;
      continue;
    }

    // an introducer must be followed by a string, hex or bit literal
    if (introducer >= 0) {
      const quoteNext = c === Q1 || c === Q2;
      const hexNext =
        ((c === 88 || c === 120 || c === 66 || c === 98) && text.charCodeAt(i + 1) === Q1) ||
        (c === 48 && (text.charCodeAt(i + 1) === 120 || text.charCodeAt(i + 1) === 98));
      const commentNext =
        (c === 47 && text.charCodeAt(i + 1) === 42) ||
        c === 35 ||
        (c === 45 && text.charCodeAt(i + 1) === 45 && (i + 2 >= n || text.charCodeAt(i + 2) <= 32));
      if (!quoteNext && !hexNext && !commentNext) {
        fail('a character set introducer (_charset) without a string after it');
        break;
      }
    }

    switch (c) {
      case 59: {
        // ;
        if (versioned) {
          fail('`;` inside a /*! … */ comment');
          break;
        }
        if (compound) {
          i++;
          continue; // a compound statement's body: never split (it is refused as a whole)
        }
        finish(i);
        i++;
        stStart = i;
        continue;
      }
      case 35: {
        // # comment to the end of the line (only \n ends it, not \r: as MariaDB)
        const nl = text.indexOf('\n', i);
        i = nl < 0 ? n : nl + 1;
        continue;
      }
      case 45: {
        // -- comment needs whitespace or a control character (or the end) after it: `--x` is minus minus x
        if (text.charCodeAt(i + 1) === 45) {
          const after = text.charCodeAt(i + 2);
          if (i + 2 >= n || after <= 32 || after === 127) {
            const nl = text.indexOf('\n', i);
            i = nl < 0 ? n : nl + 1;
            continue;
          }
        }
        break;
      }
      case 47: {
        // /* … */, /*! … */, /*M! … */
        if (text.charCodeAt(i + 1) !== 42) break;
        const bang = text.charCodeAt(i + 2) === 33;
        const mBang = !bang && text.charCodeAt(i + 2) === 77 && text.charCodeAt(i + 3) === 33; // uppercase M only
        if (!bang && !mBang) {
          const close = text.indexOf('*/', i + 2);
          if (close < 0) {
            fail('an unterminated /* comment');
            break;
          }
          // a hint comment: /*ez:…*/, also with blanks inside the delimiters
          let b = i + 2;
          while (b < close && text.charCodeAt(b) <= 32) b++;
          if (text.startsWith('ez:', b)) {
            hints ??= new Set();
            const p = hintsOf(text.slice(b, close), hints);
            if (p !== null) {
              fail(p);
              break;
            }
          }
          i = close + 2;
          continue;
        }
        if (versioned) {
          fail('a /*! … */ comment inside another');
          break;
        }
        let j = i + (bang ? 3 : 4);
        const d0 = j;
        while (j < n && isDigit(text.charCodeAt(j))) j++;
        const digits = j - d0;
        if (digits === 0 || digits === 5) {
          // no version, or a MySQL-style 5-digit one (below every MariaDB version id): runs
          versioned = true;
          i = j;
          continue;
        }
        if (digits !== 6) {
          fail(`a /*!${text.slice(d0, j).slice(0, 8)} comment: MariaDB reads 5 or 6 version digits`);
          break;
        }
        const version = Number(text.slice(d0, j));
        if (serverVersion === null) {
          fail(
            `a /*!${version} … */ comment: whether MariaDB runs it depends on the server version, which the DAL was not given`,
          );
          break;
        }
        if (version <= serverVersion) {
          versioned = true;
          i = j;
          continue;
        }
        // not run by this server: a comment (its end is the first */; nested comments are unclear)
        const close = text.indexOf('*/', j);
        const nested = text.indexOf('/*', j);
        if (close < 0) {
          fail('an unterminated /*! comment');
          break;
        }
        if (nested >= 0 && nested < close) {
          fail('a comment inside a /*!NNNNNN … */ comment the server skips');
          break;
        }
        i = close + 2;
        continue;
      }
      case 42: {
        // */ ends an executed /*! … */
        if (versioned && text.charCodeAt(i + 1) === 47) {
          versioned = false;
          i += 2;
          continue;
        }
        break;
      }
    }
    if (problem !== null) break;

    const start = i;

    // strings: '…', "…" (adjacent ones concatenate), N'…', X'…', B'…'
    if (c === Q1 || c === Q2) {
      let j = i + 1;
      let escaped = false;
      for (;;) {
        if (j >= n) break;
        const d = text.charCodeAt(j);
        if (d === 92) {
          escaped = true;
          j += 2;
        } else if (d === c) {
          if (text.charCodeAt(j + 1) === c) {
            escaped = true;
            j += 2;
          } else break;
        } else j++;
      }
      if (j >= n) {
        fail('an unterminated string');
        break;
      }
      const body = text.slice(i + 1, j);
      const value = escaped ? unescapeString(body, c) : body;
      i = j + 1;
      const prev = tokens.length > 0 ? tokens[tokens.length - 1] : undefined;
      if (introducer < 0 && prev !== undefined && prev.kind === Tok.String) {
        // 'a' 'b' is one string 'ab' in MariaDB
        prev.end = i;
        const s = slots[prev.slot];
        s.value = (s.value as string) + value;
        afterDot = false;
        continue;
      }
      pushLiteral(Tok.String, introducer >= 0 ? introducer : start, i, {
        kind: 'string',
        value,
        raw: '',
        param: -1,
      });
      introducer = -1;
      afterDot = false;
      continue;
    }
    if ((c === 78 || c === 110) && text.charCodeAt(i + 1) === Q1 && introducer < 0) {
      // N'…': a national string; lex the quoted part as a string next round
      const j = i + 1;
      let k = j + 1;
      let escaped = false;
      for (;;) {
        if (k >= n) break;
        const d = text.charCodeAt(k);
        if (d === 92) {
          escaped = true;
          k += 2;
        } else if (d === Q1) {
          if (text.charCodeAt(k + 1) === Q1) {
            escaped = true;
            k += 2;
          } else break;
        } else k++;
      }
      if (k >= n) {
        fail('an unterminated string');
        break;
      }
      const body = text.slice(j + 1, k);
      i = k + 1;
      pushLiteral(Tok.String, start, i, {
        kind: 'string',
        value: escaped ? unescapeString(body, Q1) : body,
        raw: '',
        param: -1,
      });
      afterDot = false;
      continue;
    }
    if ((c === 88 || c === 120 || c === 66 || c === 98) && text.charCodeAt(i + 1) === Q1) {
      const hex = c === 88 || c === 120;
      const close = text.indexOf("'", i + 2);
      if (close < 0) {
        fail('an unterminated string');
        break;
      }
      const digits = text.slice(i + 2, close);
      if (hex ? !/^[0-9a-fA-F]*$/.test(digits) || digits.length % 2 === 1 : !/^[01]*$/.test(digits)) {
        fail(
          hex
            ? "an X'…' literal that is not an even number of hex digits"
            : "a B'…' literal that is not binary digits",
        );
        break;
      }
      i = close + 1;
      pushLiteral(hex ? Tok.Hex : Tok.Bit, introducer >= 0 ? introducer : start, i, {
        kind: hex ? 'hex' : 'bit',
        value: hex ? hexBytes(digits) : bitBytes(digits),
        raw: digits,
        param: -1,
      });
      introducer = -1;
      afterDot = false;
      continue;
    }

    // numbers (and 0x…, 0b…); a `.` starts one only where it cannot qualify a name
    const prevTok = tokens.length > 0 ? tokens[tokens.length - 1] : undefined;
    const dotQualifies =
      prevTok !== undefined &&
      (prevTok.kind === Tok.Word || prevTok.kind === Tok.Ident || prevTok.kind === Tok.SysVar);
    if (!afterDot && (isDigit(c) || (c === 46 && !dotQualifies && isDigit(text.charCodeAt(i + 1))))) {
      let j = i;
      if (c === 48 && (text.charCodeAt(i + 1) === 120 || text.charCodeAt(i + 1) === 98)) {
        // 0x… / 0b… (lowercase only: 0X1 is a name in MariaDB)
        const hex = text.charCodeAt(i + 1) === 120;
        j = i + 2;
        while (j < n && text.charCodeAt(j) < 128 && (CLASS[text.charCodeAt(j)] & (hex ? HEXD : 0)) !== 0) j++;
        if (!hex) while (j < n && (text.charCodeAt(j) === 48 || text.charCodeAt(j) === 49)) j++;
        if (j === i + 2 || (j < n && isId(text.charCodeAt(j)))) {
          fail(`\`${text.slice(i, Math.min(j + 1, i + 20))}\`: a word that starts with a digit`);
          break;
        }
        const digits = text.slice(i + 2, j);
        i = j;
        pushLiteral(hex ? Tok.Hex : Tok.Bit, introducer >= 0 ? introducer : start, i, {
          kind: hex ? 'hex' : 'bit',
          value: hex ? hexBytes(digits) : bitBytes(digits),
          raw: digits,
          param: -1,
        });
        introducer = -1;
        continue;
      }
      while (j < n && isDigit(text.charCodeAt(j))) j++;
      if (text.charCodeAt(j) === 46) {
        j++;
        while (j < n && isDigit(text.charCodeAt(j))) j++;
      }
      const e = text.charCodeAt(j);
      if (e === 101 || e === 69) {
        let k = j + 1;
        if (text.charCodeAt(k) === 43 || text.charCodeAt(k) === 45) k++;
        if (!isDigit(text.charCodeAt(k))) {
          fail(`\`${text.slice(i, Math.min(k + 1, i + 20))}\`: a word that starts with a digit`);
          break;
        }
        while (k < n && isDigit(text.charCodeAt(k))) k++;
        j = k;
      }
      if (j < n && isId(text.charCodeAt(j))) {
        // 1a is a name, 1e5x is 1e5 AS x: MariaDB's rules here are subtle, so refuse
        fail(`\`${text.slice(i, Math.min(j + 1, i + 20))}\`: a word that starts with a digit`);
        break;
      }
      const raw = text.slice(i, j);
      i = j;
      if (introducer >= 0) {
        fail('a character set introducer (_charset) without a string after it');
        break;
      }
      pushLiteral(Tok.Number, start, i, { kind: 'number', value: raw, raw, param: -1 });
      continue;
    }

    // words (after `t.` a name may start with a digit)
    if (isId(c)) {
      let j = i;
      let upperSeen = false;
      let lowerSeen = false;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d < 128) {
          if ((CLASS[d] & ID) === 0) break;
          if (d >= 65 && d <= 90) upperSeen = true;
          else if (d >= 97 && d <= 122) lowerSeen = true;
        }
        j++;
      }
      const word = text.slice(i, j);
      i = j;
      if (!afterDot && c === 95 && CHARSETS.has(word.slice(1).toLowerCase())) {
        if (introducer >= 0) {
          fail('a character set introducer (_charset) without a string after it');
          break;
        }
        introducer = start;
        continue;
      }
      let upper: string | undefined;
      if (!afterDot && word.length <= MAX_RESERVED_LENGTH) {
        upper = RESERVED_WORDS.get(word);
        if (upper === undefined && upperSeen && lowerSeen) upper = RESERVED_WORDS.get(word.toUpperCase());
      }
      const reserved = upper !== undefined;
      let piece = reserved ? upper! : word;
      if (tokens.length === 0) {
        firstUpper = reserved ? upper! : word.toUpperCase();
        piece = firstUpper;
        if (COMPOUND_FIRST.has(firstUpper)) compound = true;
      } else if (!compound) {
        if (tokens.length === 1 && firstUpper === 'BEGIN' && word.toUpperCase() === 'NOT') compound = true;
        else if ((firstUpper === 'CREATE' || firstUpper === 'ALTER') && word.length === 5)
          if (word.toUpperCase() === 'BEGIN') compound = true;
      }
      push(Tok.Word, start, i, word, piece, reserved);
      afterDot = false;
      continue;
    }
    if (introducer >= 0) {
      fail('a character set introducer (_charset) without a string after it');
      break;
    }

    afterDot = false;
    switch (c) {
      case BT: {
        let j = i + 1;
        let doubled = false;
        for (;;) {
          const close = text.indexOf('`', j);
          if (close < 0) {
            j = -1;
            break;
          }
          if (text.charCodeAt(close + 1) === BT) {
            doubled = true;
            j = close + 2;
            continue;
          }
          j = close;
          break;
        }
        if (j < 0) {
          fail('an unterminated `identifier`');
          break;
        }
        const name = doubled ? text.slice(i + 1, j).replaceAll('``', '`') : text.slice(i + 1, j);
        i = j + 1;
        push(Tok.Ident, start, i, name, text.slice(start, i));
        continue;
      }
      case 63: // ?
        i++;
        pushLiteral(Tok.Param, start, i, { kind: 'param', value: null, raw: '', param: params++ });
        continue;
      case 64: {
        // @user, @'user', @@system
        const sys = text.charCodeAt(i + 1) === 64;
        let j = i + (sys ? 2 : 1);
        const q = text.charCodeAt(j);
        if (q === BT || (!sys && (q === Q1 || q === Q2))) {
          const close = text.indexOf(String.fromCharCode(q), j + 1);
          if (close < 0) {
            fail('an unterminated quoted variable name');
            break;
          }
          j = close + 1;
        } else {
          const s = j;
          while (j < n && (isId(text.charCodeAt(j)) || (!sys && text.charCodeAt(j) === 46))) j++;
          if (j === s) {
            fail('`@` without a variable name');
            break;
          }
        }
        i = j;
        const v = text.slice(start, i);
        push(sys ? Tok.SysVar : Tok.UserVar, start, i, v, v);
        continue;
      }
      case 40:
        i++;
        push(Tok.LParen, start, i, '(', '(');
        continue;
      case 41:
        i++;
        push(Tok.RParen, start, i, ')', ')');
        continue;
      case 44:
        i++;
        push(Tok.Comma, start, i, ',', ',');
        continue;
      case 46:
        i++;
        push(Tok.Dot, start, i, '.', '.');
        afterDot = dotQualifies;
        continue;
    }
    if (problem !== null) break;

    // operators, longest first
    const c1 = text.charCodeAt(i + 1);
    let op: string | null = null;
    switch (c) {
      case 60: // <
        op =
          c1 === 61
            ? text.charCodeAt(i + 2) === 62
              ? '<=>'
              : '<='
            : c1 === 62
              ? '<>'
              : c1 === 60
                ? '<<'
                : '<';
        break;
      case 62: // >
        op = c1 === 61 ? '>=' : c1 === 62 ? '>>' : '>';
        break;
      case 33: // !
        op = c1 === 61 ? '!=' : '!';
        break;
      case 38: // &
        op = c1 === 38 ? '&&' : '&';
        break;
      case 124: // |
        op = c1 === 124 ? '||' : '|';
        break;
      case 58: // :
        if (c1 === 61) op = ':=';
        break;
      case 61:
        op = '=';
        break;
      case 43:
        op = '+';
        break;
      case 45:
        op = '-';
        break;
      case 42:
        op = '*';
        break;
      case 47:
        op = '/';
        break;
      case 37:
        op = '%';
        break;
      case 94:
        op = '^';
        break;
      case 126:
        op = '~';
        break;
    }
    if (op === null) {
      const shown = c < 32 || c === 127 ? `\\x${c.toString(16).padStart(2, '0')}` : String.fromCharCode(c);
      fail(`the character ${JSON.stringify(shown)} outside a string (not a token the DAL reads)`);
      break;
    }
    i += op.length;
    push(Tok.Op, start, i, op, op);
  }

  if (problem === null && versioned) fail('an unterminated /*! comment');
  // a problem: the statement runs to the end of the text (nothing after it can be read with certainty)
  finish(n);
  return out;
}

/** A Word's upper-case spelling (for keyword comparisons; reserved words are already upper). */
export function upperOf(tok: Token): string {
  return tok.kind === Tok.Word ? tok.text.toUpperCase() : '';
}
