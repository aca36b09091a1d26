// Table and column names from a SQL schema file (the CREATE TABLE statements ezctl up applies to
// every eZone's MariaDB), so the topology loader can check that its tables and columns exist.
//
// Hand-written on purpose: node-sql-parser (a dependency) costs ~60 ms to import and ~17 ms to parse
// fixtures/sql/schema.sql, and refuses valid MariaDB (PARTITION BY, CHECK on a JSON column, ...). This
// scan reads only what the check needs and passes over every statement it does not understand.

import { quote } from '../util/validation.js';

export interface SqlColumn {
  name: string;
  /** the type's first word, lowercase: "bigint", "datetime", "varchar" */
  type: string;
}

export interface SqlTable {
  name: string;
  /** 1-based line of its CREATE TABLE */
  line: number;
  columns: SqlColumn[];
  /** PRIMARY KEY columns in key order; null when the table has none */
  primaryKey: string[] | null;
  /**
   * false when the file changes the table after creating it (ALTER TABLE) or creates it from a
   * query (CREATE TABLE ... SELECT): its columns are then not known exactly, only that it exists
   */
  columnsKnown: boolean;
}

/** A schema file the scan cannot read: `line` is 1-based. */
export class SqlSchemaError extends Error {
  readonly line: number;
  constructor(line: number, message: string) {
    super(message);
    this.name = 'SqlSchemaError';
    this.line = line;
  }
}

type TokKind = 'word' | 'ident' | 'string' | 'punct' | 'end';
interface Tok {
  kind: TokKind;
  /** a word as written; an identifier or string unquoted; a punctuation character */
  text: string;
  line: number;
}

const WORD = /[\p{L}\p{N}_$]/u;

/** Tokens of the whole file, statements ended by an 'end' token (`;` or the DELIMITER in force). */
function tokenize(sql: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  let line = 1;
  let delimiter = ';';
  let atStart = true;
  const n = sql.length;
  const quoted = (q: string, kind: TokKind): void => {
    const startLine = line;
    let text = '';
    i++;
    for (;;) {
      if (i >= n)
        throw new SqlSchemaError(startLine, `unterminated ${q === '`' ? 'identifier' : 'string'} (${q})`);
      const c = sql[i];
      if (c === '\n') line++;
      if (c === '\\' && q !== '`' && i + 1 < n) {
        text += sql[i + 1];
        if (sql[i + 1] === '\n') line++;
        i += 2;
      } else if (c === q) {
        if (sql[i + 1] === q) {
          text += q;
          i += 2;
        } else {
          i++;
          break;
        }
      } else {
        text += c;
        i++;
      }
    }
    out.push({ kind, text, line: startLine });
    atStart = false;
  };
  while (i < n) {
    const c = sql[i];
    if (c === '\n') {
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
      i++;
    } else if (c === '#' || (c === '-' && sql[i + 1] === '-' && (i + 2 >= n || /\s/.test(sql[i + 2])))) {
      while (i < n && sql[i] !== '\n') i++;
    } else if (c === '/' && sql[i + 1] === '*') {
      // also /*! ... */ (executable comments): mysqldump puts only SET and table options there
      const end = sql.indexOf('*/', i + 2);
      if (end < 0) throw new SqlSchemaError(line, 'unterminated comment (/*)');
      for (let k = i; k < end; k++) if (sql[k] === '\n') line++;
      i = end + 2;
    } else if (atStart && /^delimiter[ \t]/i.test(sql.slice(i, i + 10))) {
      // the mysql client's DELIMITER command (schema files are applied with the client)
      const eol = sql.indexOf('\n', i);
      const arg = sql
        .slice(i + 10, eol < 0 ? n : eol)
        .trim()
        .split(/\s/)[0];
      if (!arg) throw new SqlSchemaError(line, 'DELIMITER without a delimiter');
      delimiter = arg;
      i = eol < 0 ? n : eol;
    } else if (sql.startsWith(delimiter, i)) {
      out.push({ kind: 'end', text: delimiter, line });
      i += delimiter.length;
      atStart = true;
    } else if (c === "'" || c === '"') {
      quoted(c, 'string');
    } else if (c === '`') {
      quoted(c, 'ident');
    } else if (WORD.test(c)) {
      const start = i;
      while (i < n && WORD.test(sql[i])) i++;
      out.push({ kind: 'word', text: sql.slice(start, i), line });
      atStart = false;
    } else {
      out.push({ kind: 'punct', text: c, line });
      atStart = false;
      i++;
    }
  }
  out.push({ kind: 'end', text: '', line });
  return out;
}

const isWord = (t: Tok | undefined, ...words: string[]): boolean =>
  t?.kind === 'word' && words.includes(t.text.toUpperCase());
/** an unquoted or quoted name ("..." counts: it is an identifier under ANSI_QUOTES) */
const isName = (t: Tok | undefined): boolean =>
  t?.kind === 'word' || t?.kind === 'ident' || t?.kind === 'string';
const isPunct = (t: Tok | undefined, p: string): boolean => t?.kind === 'punct' && t.text === p;

/** Items of the parenthesised list starting at toks[open] ('('), split at top-level commas; and the index after ')'. */
function splitList(toks: Tok[], open: number): { items: Tok[][]; next: number } {
  const items: Tok[][] = [[]];
  let depth = 0;
  for (let k = open + 1; k < toks.length; k++) {
    const t = toks[k];
    if (t.kind === 'end')
      throw new SqlSchemaError(toks[open].line, 'unbalanced parentheses: "(" is never closed');
    if (isPunct(t, '(')) depth++;
    else if (isPunct(t, ')')) {
      if (depth === 0) return { items, next: k + 1 };
      depth--;
    } else if (isPunct(t, ',') && depth === 0) {
      items.push([]);
      continue;
    }
    items[items.length - 1].push(t);
  }
  throw new SqlSchemaError(toks[open].line, 'unbalanced parentheses');
}

/** Column names of an index column list `(a, b(10) DESC, ...)` starting at toks[open]. */
function keyColumns(toks: Tok[], open: number): string[] {
  return splitList(toks, open)
    .items.filter((it) => it.length > 0 && isName(it[0]))
    .map((it) => it[0].text);
}

/** Words that start a table element that is not a column (MariaDB CREATE TABLE syntax). */
const NOT_COLUMN = new Set([
  'KEY',
  'INDEX',
  'PRIMARY',
  'UNIQUE',
  'CONSTRAINT',
  'FOREIGN',
  'CHECK',
  'FULLTEXT',
  'SPATIAL',
  'PERIOD',
]);

/**
 * The tables a schema file creates in `database` (when the file names or USEs another database,
 * those tables are not counted), in file order, by name.
 */
export function parseSqlSchema(sql: string, database: string): Map<string, SqlTable> {
  const toks = tokenize(sql);
  const tables = new Map<string, SqlTable>();
  let currentDb: string | null = null; // null: the database ezctl up USEs before the file
  let k = 0;
  /** `[db.]name` at toks[k]: the name when it lies in our database, else null; advances k */
  const tableName = (what: string): string | null => {
    const first = toks[k];
    if (!isName(first)) throw new SqlSchemaError(first.line, `${what}: expected a table name`);
    k++;
    if (isPunct(toks[k], '.') && isName(toks[k + 1])) {
      const db = first.text;
      const name = toks[k + 1].text;
      k += 2;
      return db === database ? name : null;
    }
    return currentDb === null || currentDb === database ? first.text : null;
  };
  while (k < toks.length) {
    const start = k;
    const t = toks[k];
    if (isWord(t, 'USE') && isName(toks[k + 1])) {
      currentDb = toks[k + 1].text;
    } else if (isWord(t, 'CREATE')) {
      k++;
      let orReplace = false;
      if (isWord(toks[k], 'OR') && isWord(toks[k + 1], 'REPLACE')) {
        orReplace = true;
        k += 2;
      }
      const temporary = isWord(toks[k], 'TEMPORARY');
      if (temporary) k++;
      if (isWord(toks[k], 'TABLE')) {
        k++;
        let ifNotExists = false;
        if (isWord(toks[k], 'IF') && isWord(toks[k + 1], 'NOT') && isWord(toks[k + 2], 'EXISTS')) {
          ifNotExists = true;
          k += 3;
        }
        const line = toks[k].line;
        const name = tableName('CREATE TABLE');
        const table = createTable(toks, k, tables, name ?? '', line);
        // a temporary table ends with the session; a table of another database is not ours
        if (name !== null && !temporary) {
          const prev = tables.get(name);
          if (prev && !ifNotExists && !orReplace)
            throw new SqlSchemaError(
              line,
              `table ${quote(name)} is created twice (first at line ${prev.line})`,
            );
          if (!prev || !ifNotExists) tables.set(name, table);
        }
      }
    } else if (isWord(t, 'ALTER') && (isWord(toks[k + 1], 'TABLE') || isWord(toks[k + 2], 'TABLE'))) {
      k += isWord(toks[k + 1], 'TABLE') ? 2 : 3; // ALTER [ONLINE|IGNORE] TABLE
      if (isWord(toks[k], 'IF') && isWord(toks[k + 1], 'EXISTS')) k += 2;
      const name = isName(toks[k]) ? tableName('ALTER TABLE') : null;
      const table = name === null ? undefined : tables.get(name);
      if (table) table.columnsKnown = false;
    } else if (isWord(t, 'DROP') && isWord(toks[k + 1], 'TABLE')) {
      k += 2;
      if (isWord(toks[k], 'IF') && isWord(toks[k + 1], 'EXISTS')) k += 2;
      while (isName(toks[k])) {
        const name = tableName('DROP TABLE');
        if (name !== null) tables.delete(name);
        if (!isPunct(toks[k], ',')) break;
        k++;
      }
    }
    // on to the next statement
    k = Math.max(k, start + 1);
    while (k < toks.length && toks[k - 1].kind !== 'end') k++;
  }
  return tables;
}

/** The table defined from toks[k] on: `(elements) [options] [[AS] SELECT ...]`, `LIKE other`, `(LIKE other)`, `[AS] SELECT ...`. */
function createTable(
  toks: Tok[],
  k: number,
  tables: Map<string, SqlTable>,
  name: string,
  line: number,
): SqlTable {
  const table: SqlTable = { name, line, columns: [], primaryKey: null, columnsKnown: true };
  const like = (at: number): SqlTable => {
    const src = isName(toks[at]) ? tables.get(toks[at].text) : undefined;
    if (!src) return { ...table, columnsKnown: false }; // a table of another database, or not seen
    return {
      ...table,
      columns: [...src.columns],
      primaryKey: src.primaryKey && [...src.primaryKey],
      columnsKnown: src.columnsKnown,
    };
  };
  if (isWord(toks[k], 'LIKE')) return like(k + 1);
  if (!isPunct(toks[k], '(')) {
    table.columnsKnown = false; // CREATE TABLE t [AS] SELECT ...: the query decides the columns
    return table;
  }
  if (isWord(toks[k + 1], 'LIKE')) return like(k + 2);
  const { items, next } = splitList(toks, k);
  for (const item of items) {
    const first = item[0];
    if (!first)
      throw new SqlSchemaError(
        toks[k].line,
        `table ${quote(name)}: empty element in the column list (a stray comma?)`,
      );
    if (first.kind === 'word' && NOT_COLUMN.has(first.text.toUpperCase())) {
      // [CONSTRAINT [name]] PRIMARY KEY [USING x] (cols)
      const p = item.findIndex((t, i) => isWord(t, 'PRIMARY') && isWord(item[i + 1], 'KEY'));
      if (p >= 0) {
        const open = item.findIndex((t, i) => i > p && isPunct(t, '('));
        if (open >= 0) table.primaryKey = keyColumns(item, open);
      }
      continue;
    }
    if (!isName(first))
      throw new SqlSchemaError(
        first.line,
        `table ${quote(name)}: expected a column name, got ${quote(first.text)}`,
      );
    const type = item[1];
    if (type?.kind !== 'word')
      throw new SqlSchemaError(first.line, `table ${quote(name)}: column ${quote(first.text)} has no type`);
    table.columns.push({ name: first.text, type: type.text.toLowerCase() });
    // inline PRIMARY KEY, or plain KEY (MySQL: "KEY" in a column definition means PRIMARY KEY)
    let depth = 0;
    for (let i = 2; i < item.length; i++) {
      if (isPunct(item[i], '(')) depth++;
      else if (isPunct(item[i], ')')) depth--;
      else if (depth === 0 && isWord(item[i], 'KEY') && !isWord(item[i - 1], 'UNIQUE'))
        table.primaryKey = [first.text];
    }
  }
  // CREATE TABLE t (a INT) SELECT b FROM u: the query adds columns
  for (let i = next; toks[i] && toks[i].kind !== 'end'; i++)
    if (isWord(toks[i], 'SELECT')) table.columnsKnown = false;
  return table;
}
