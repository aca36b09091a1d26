// Token-level helpers of the classifier: keyword tests, the text handed to node-sql-parser, and the
// checks that keep node-sql-parser's known misreadings from deciding a shard.
import { type LexedStatement, type Slot, Tok, type Token } from './lexer.js';

/** Is `tok` the word `w` (upper-case), in any spelling? Quoted identifiers never are. */
export function isWord(tok: Token | undefined, w: string): boolean {
  return (
    tok !== undefined && tok.kind === Tok.Word && tok.text.length === w.length && tok.text.toUpperCase() === w
  );
}

/** The upper-case spelling of a Word ('' for any other token). */
export function wordAt(tokens: readonly Token[], i: number): string {
  const t = tokens[i];
  return t !== undefined && t.kind === Tok.Word ? t.text.toUpperCase() : '';
}

/** A name token (an unreserved word or a quoted identifier): its name; else null. */
export function nameOf(tok: Token | undefined): string | null {
  if (tok === undefined) return null;
  if (tok.kind === Tok.Ident) return tok.text;
  if (tok.kind === Tok.Word && !tok.reserved) return tok.text;
  return null;
}

/** Is there a run of words `seq` (upper-case) anywhere in `tokens`? */
export function hasWords(tokens: readonly Token[], ...seq: string[]): boolean {
  outer: for (let i = 0; i + seq.length <= tokens.length; i++) {
    for (let k = 0; k < seq.length; k++) if (!isWord(tokens[i + k], seq[k])) continue outer;
    return true;
  }
  return false;
}

/**
 * Every name the statement spells (unreserved words and quoted identifiers), for cross-checks: a
 * reserved word cannot be an unquoted table name, so `UPDATE IGNORE t` has no table IGNORE.
 */
export function namesIn(tokens: readonly Token[]): Set<string> {
  const s = new Set<string>();
  for (const t of tokens) {
    if (t.kind === Tok.Ident || (t.kind === Tok.Word && !t.reserved)) s.add(t.text);
  }
  return s;
}

/**
 * What a read must not do (tokens, never text inside strings or comments): take row locks
 * (FOR UPDATE, LOCK IN SHARE MODE, FOR SHARE), write a file (INTO OUTFILE/DUMPFILE), or advance a
 * SEQUENCE (NEXTVAL(), SETVAL(), NEXT VALUE FOR — a write to the sequence's table).
 */
export function readHazard(tokens: readonly Token[]): 'locking' | 'outfile' | 'sequence' | null {
  let hazard: 'locking' | 'outfile' | 'sequence' | null = null;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind !== Tok.Word) continue;
    const w = t.text.toUpperCase();
    if (w === 'FOR') {
      const nx = wordAt(tokens, i + 1);
      if (nx === 'UPDATE' || nx === 'SHARE') hazard ??= 'locking';
    } else if (w === 'LOCK') {
      if (wordAt(tokens, i + 1) === 'IN' && wordAt(tokens, i + 2) === 'SHARE') hazard ??= 'locking';
    } else if (w === 'INTO') {
      const nx = wordAt(tokens, i + 1);
      if (nx === 'OUTFILE' || nx === 'DUMPFILE') return 'outfile';
    } else if (w === 'NEXTVAL' || w === 'SETVAL') {
      if (tokens[i + 1]?.kind === Tok.LParen) return 'sequence';
    } else if (w === 'NEXT') {
      if (wordAt(tokens, i + 1) === 'VALUE' && wordAt(tokens, i + 2) === 'FOR') return 'sequence';
    }
  }
  return hazard;
}

/**
 * node-sql-parser 5.4 (MariaDB grammar) misreads boolean precedence: `a OR b AND c` as
 * `(a OR b) AND c`, `a AND b IN (1) OR c` as `a AND (b IN (1) OR c)`, `||` as concatenation and
 * XOR below `=`. Any of these could show a shard key as an AND-conjunct when MariaDB ORs it with
 * other rows. So a statement handed to the parser may not mix AND and OR at one parenthesis level
 * (BETWEEN's AND excepted) and may not use `||` or XOR: then every level the parser builds is a
 * pure AND-chain or OR-chain, which it reads right (docs/dal.md lists the cases).
 */
export function precedenceProblem(tokens: readonly Token[]): string | null {
  // per level: 1 = AND seen, 2 = OR seen; pending BETWEENs whose AND is still to come
  const seen: number[] = [0];
  const between: number[] = [0];
  for (const t of tokens) {
    if (t.kind === Tok.LParen) {
      seen.push(0);
      between.push(0);
      continue;
    }
    if (t.kind === Tok.RParen) {
      if (seen.length > 1) {
        seen.pop();
        between.pop();
      }
      continue;
    }
    if (t.kind === Tok.Op) {
      if (t.text === '||')
        return '`||` (node-sql-parser 5.4 reads it as string concatenation, MariaDB as OR): write OR, with parentheses';
      if (t.text !== '&&') continue;
    } else if (t.kind !== Tok.Word) continue;
    const top = seen.length - 1;
    const w = t.kind === Tok.Op ? 'AND' : t.text.toUpperCase();
    if (w === 'XOR') return 'XOR (node-sql-parser 5.4 gives it the wrong precedence): rewrite it with AND/OR';
    if (w === 'CASE') {
      seen.push(0);
      between.push(0);
    } else if (w === 'END') {
      if (seen.length > 1) {
        seen.pop();
        between.pop();
      }
    } else if (w === 'BETWEEN') between[top]++;
    else if (w === 'AND') {
      if (between[top] > 0) between[top]--;
      else seen[top] |= 1;
    } else if (w === 'OR') seen[top] |= 2;
    if (seen[top] === 3)
      return 'AND and OR at one level without parentheses (node-sql-parser 5.4 misreads their precedence): add parentheses, e.g. a AND (b OR c)';
  }
  return null;
}

const MODIFIERS: Record<string, readonly string[]> = {
  UPDATE: ['LOW_PRIORITY', 'IGNORE'],
  DELETE: ['LOW_PRIORITY', 'QUICK', 'IGNORE'],
  INSERT: ['LOW_PRIORITY', 'DELAYED', 'HIGH_PRIORITY'],
  REPLACE: ['LOW_PRIORITY', 'DELAYED'],
  // a SELECT's own verb, so that the UPDATE of FOR UPDATE is not taken for one
  SELECT: [],
};

/**
 * The tokens of a DML statement as handed to node-sql-parser, without what 5.4 cannot parse or
 * misreads but what cannot widen the rows written: modifiers after the verb (`UPDATE IGNORE t`
 * parses as table IGNORE alias t), the trailing ORDER BY/LIMIT of UPDATE/DELETE, and
 * `WAIT n`/`NOWAIT`/`SKIP LOCKED` of a locking read. Each only narrows or orders rows.
 */
export function tokensForParser(tokens: readonly Token[]): Token[] {
  const out: Token[] = [];
  let depth = 0;
  let verb = '';
  let cut = false;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind === Tok.LParen) depth++;
    else if (t.kind === Tok.RParen) depth--;
    const w = t.kind === Tok.Word ? t.text.toUpperCase() : '';
    if (depth === 0 && verb === '' && MODIFIERS[w] !== undefined) {
      verb = w;
      out.push(t);
      while (MODIFIERS[verb].includes(wordAt(tokens, i + 1))) i++;
      continue;
    }
    if (depth === 0 && (verb === 'UPDATE' || verb === 'DELETE')) {
      if ((w === 'ORDER' && wordAt(tokens, i + 1) === 'BY') || w === 'LIMIT') cut = true;
      else if (w === 'RETURNING') cut = false;
      if (cut) continue;
    }
    if (w === 'NOWAIT' || (w === 'SKIP' && wordAt(tokens, i + 1) === 'LOCKED')) {
      if (w === 'SKIP') i++;
      continue;
    }
    if (w === 'WAIT' && tokens[i + 1] !== undefined && tokens[i + 1].slot >= 0) {
      i++;
      continue;
    }
    out.push(t);
  }
  return out;
}

function literalText(s: Slot): string {
  switch (s.kind) {
    case 'number':
      return s.raw;
    case 'hex':
      return `X'${s.raw}'`;
    case 'bit':
      return `b'${s.raw}'`;
    case 'param':
      return '?';
    default:
      return `'${(s.value as string).replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
  }
}

/**
 * The text node-sql-parser reads: the statement re-spelled from its tokens (no comments, hints or
 * versioned-comment delimiters). Literal slot k is `:pk` (a named parameter, so the AST says which
 * slot a value is); for DDL (`literals: 'values'`) the literal itself, since DDL grammar wants
 * literals where parameters cannot stand (DEFAULT 'x', VARCHAR(10)).
 */
export function parserText(
  stmt: LexedStatement,
  tokens: readonly Token[],
  literals: 'params' | 'values',
): string {
  let s = '';
  let prev = 0;
  let prevTightDot = false;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    let piece: string;
    switch (t.kind) {
      case Tok.Word:
        piece = t.reserved || i === 0 ? t.text.toUpperCase() : t.text;
        break;
      case Tok.Ident:
        piece = `\`${t.text.replaceAll('`', '``')}\``;
        break;
      case Tok.String:
      case Tok.Number:
      case Tok.Hex:
      case Tok.Bit:
      case Tok.Param:
        piece = literals === 'params' ? `:p${t.slot}` : literalText(stmt.slots[t.slot]);
        break;
      default:
        piece = t.text;
    }
    // spaced as the digest is (lexer.ts)
    const tightDot = t.kind === Tok.Dot && (prev === Tok.Word || prev === Tok.Ident || prev === Tok.SysVar);
    if (s.length > 0 && t.kind !== Tok.Comma && t.kind !== Tok.RParen && !tightDot)
      if (prev !== Tok.LParen && !prevTightDot) s += ' ';
    s += piece;
    prev = t.kind;
    prevTightDot = tightDot;
  }
  return s;
}
