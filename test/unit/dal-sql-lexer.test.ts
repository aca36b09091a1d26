// The DAL's SQL lexer: every token kind, comments and versioned comments, splitting, digests,
// literal values and hints — read the way MariaDB 10.11 reads them (docs/dal.md).
import { describe, expect, it } from 'vitest';
import { type LexedStatement, lexSql, type Slot, Tok, type TokKind } from '../../src/dal/sql/lexer.js';

const V = { serverVersion: 101119 }; // MariaDB 10.11.19, the version the expectations were checked on

function one(sql: string, opts = V): LexedStatement {
  const s = lexSql(sql, opts);
  expect(s, sql).toHaveLength(1);
  return s[0];
}
const digest = (sql: string): string => one(sql).digest;
const kinds = (sql: string): TokKind[] => one(sql).tokens.map((t) => t.kind);
const values = (sql: string): Slot['value'][] => one(sql).slots.map((s) => s.value);
const problem = (sql: string, opts = V): string | null => {
  const all = lexSql(sql, opts);
  return all[all.length - 1].problem;
};

describe('tokens', () => {
  it('reads words, quoted identifiers, literals, placeholders, variables, operators and punctuation', () => {
    expect(kinds("SELECT `a b`, 'x', 1, X'41', b'1', ?, @u, @@s FROM t")).toEqual([
      Tok.Word,
      Tok.Ident,
      Tok.Comma,
      Tok.String,
      Tok.Comma,
      Tok.Number,
      Tok.Comma,
      Tok.Hex,
      Tok.Comma,
      Tok.Bit,
      Tok.Comma,
      Tok.Param,
      Tok.Comma,
      Tok.UserVar,
      Tok.Comma,
      Tok.SysVar,
      Tok.Word,
      Tok.Word,
    ]);
    const ops = one(
      'SELECT a<=>b, a<=b, a>=b, a<>b, a!=b, a<<b, a>>b, a&&b, a||b, @x:=1, !a, ~a, a%b, a^b, a|b, a&b',
    )
      .tokens.filter((t) => t.kind === Tok.Op)
      .map((t) => t.text);
    expect(ops).toEqual([
      '<=>',
      '<=',
      '>=',
      '<>',
      '!=',
      '<<',
      '>>',
      '&&',
      '||',
      ':=',
      '!',
      '~',
      '%',
      '^',
      '|',
      '&',
    ]);
  });

  it('unescapes backticked names (`` is one backtick) and keeps spaces and keywords in them', () => {
    const t = one('UPDATE `my ord``ers` SET `select` = 1').tokens;
    expect(t[1]).toMatchObject({ kind: Tok.Ident, text: 'my ord`ers' });
    expect(t[3]).toMatchObject({ kind: Tok.Ident, text: 'select', reserved: false });
    expect(digest('UPDATE `my ord``ers` SET `select` = 1')).toBe('UPDATE `my ord``ers` SET `select` = ?');
  });

  it("decodes strings: backslash escapes, doubled quotes, both quote kinds, N'', introducers, concatenation", () => {
    expect(values(String.raw`SELECT 'a\'b', 'a''b', "a""b", 'x\ny', '\%\_', '\Z\0', N'n', "dq"`)).toEqual([
      "a'b",
      "a'b",
      'a"b',
      'x\ny',
      '\\%\\_', // LIKE escapes keep their backslash (MariaDB)
      '\x1a\0',
      'n',
      'dq',
    ]);
    // adjacent strings are one literal; an introducer (also before whitespace or a comment) is part of it
    const s = one("SELECT _utf8mb4'a' 'b' /* c */ \"c\", _latin1 /* x */ 'd', _binary X'41', 'e' FROM t");
    expect(s.slots.map((x) => x.value)).toEqual(['abc', 'd', new Uint8Array([65]), 'e']);
    expect(s.digest).toBe('SELECT ?, ?, ?, ? FROM t');
    // a hex literal before a string is not concatenated: the string is its alias in MariaDB
    expect(one("SELECT X'41' 'b'").slots).toHaveLength(2);
  });

  it('reads numbers: integers, decimals, exponents, leading dot; minus is an operator', () => {
    expect(values('SELECT 1, 12.5, .5, 5., 1e5, 1.5E-3, 2e+2, -7')).toEqual([
      '1',
      '12.5',
      '.5',
      '5.',
      '1e5',
      '1.5E-3',
      '2e+2',
      '7',
    ]);
    expect(digest('SELECT -7')).toBe('SELECT - ?');
    expect(values("SELECT 0x4142, 0b101, x'ff'")).toEqual([
      new Uint8Array([0x41, 0x42]),
      new Uint8Array([5]),
      new Uint8Array([255]),
    ]);
    // t.5col: after a qualifying dot a name may start with a digit
    expect(kinds('SELECT t.5col FROM t')).toEqual([
      Tok.Word,
      Tok.Word,
      Tok.Dot,
      Tok.Word,
      Tok.Word,
      Tok.Word,
    ]);
  });

  it('numbers placeholders and keeps user and system variable spellings', () => {
    const s = one("SELECT ?, 'a', ?, @x.y, @'q r', @`b`, @@session.autocommit");
    expect(s.slots.map((x) => [x.kind, x.param])).toEqual([
      ['param', 0],
      ['string', -1],
      ['param', 1],
    ]);
    expect(s.paramCount).toBe(2);
    expect(s.digest).toBe("SELECT ?, ?, ?, @x.y, @'q r', @`b`, @@session.autocommit");
  });
});

describe('comments', () => {
  it('drops comments anywhere, also between a name and its dot', () => {
    expect(digest('/* a */ SELECT /* b */ * /* c */ FROM /* d */ t /**/./**/c # e')).toBe(
      'SELECT * FROM t.c',
    );
  });

  it('-- needs whitespace or a control character after it; --x is minus minus x', () => {
    expect(lexSql('SELECT 1 -- comment\n+ 1', V)[0].digest).toBe('SELECT ? + ?');
    expect(digest('SELECT 5--1')).toBe('SELECT ? - - ?');
    expect(digest('SELECT 1 --x')).toBe('SELECT ? - - x');
    expect(digest('SELECT 1 --')).toBe('SELECT ?');
    expect(digest('SELECT 1 --\t+ 2')).toBe('SELECT ?');
  });

  it('ends -- and # comments at \\n only: MariaDB reads past \\r', () => {
    expect(digest('SELECT 1 -- a\r+ 1')).toBe('SELECT ?');
    expect(digest('SELECT 1 # a\r+ 1\n+ 2')).toBe('SELECT ? + ?');
  });

  it('reads ; and comment markers inside strings and names as text', () => {
    const s = lexSql("SELECT 'a;b', \"--c\", '#d', '/*e*/', `f;g` FROM t; SELECT 2", V);
    expect(s).toHaveLength(2);
    expect(s[0].slots.map((x) => x.value)).toEqual(['a;b', '--c', '#d', '/*e*/']);
    expect(s[0].tokens[9]).toMatchObject({ kind: Tok.Ident, text: 'f;g' });
  });

  it('treats /*! … */ and /*M! … */ content as code (MariaDB runs it), and /*m! … */ as a comment', () => {
    expect(digest('SELECT 1 /*! + 2 */')).toBe('SELECT ? + ?');
    expect(digest('SELECT 1 /*!50000 + 2 */')).toBe('SELECT ? + ?');
    expect(digest('SELECT 1 /*M! + 2 */')).toBe('SELECT ? + ?');
    expect(digest('SELECT 1 /*M!50000 + 2 */')).toBe('SELECT ? + ?');
    expect(digest('SELECT 1 /*m! + 2 */')).toBe('SELECT ?');
    // a plain comment inside one is a comment; */ inside a string does not end it
    expect(digest('SELECT 1 /*! + /* c */ 2 */')).toBe('SELECT ? + ?');
    expect(digest("SELECT 1 /*! + '*/' */")).toBe('SELECT ? + ?');
    expect(digest('UPDATE t SET a = 1 WHERE k = 5 /*! OR 1 = 1 */')).toBe(
      'UPDATE t SET a = ? WHERE k = ? OR ? = ?',
    );
  });

  it('decides /*!NNNNNN … */ by the server version, and refuses it when the version is unknown', () => {
    expect(digest('SELECT 1 /*!101119 + 2 */')).toBe('SELECT ? + ?');
    expect(digest('SELECT 1 /*!101120 + 2 */')).toBe('SELECT ?');
    expect(digest('SELECT 1 /*M!101119 + 2 */')).toBe('SELECT ? + ?');
    expect(problem('SELECT 1 /*!101119 + 2 */', {} as typeof V)).toMatch(/depends on the server version/);
    expect(problem('SELECT 1 /*!999999 + /* x */ 2 */')).toMatch(/comment inside/);
  });

  it('finds what MariaDB rejects in versioned comments: odd digit counts, nesting, ;, no end', () => {
    expect(problem('SELECT 1 /*!1 + 1 */')).toMatch(/5 or 6 version digits/);
    expect(problem('SELECT 1 /*!1234 + 1 */')).toMatch(/5 or 6 version digits/);
    expect(problem('SELECT 1 /*!1011190 + 1 */')).toMatch(/5 or 6 version digits/);
    expect(problem('SELECT 1 /*! + /*! 2 */ */')).toMatch(/inside another/);
    expect(problem('SELECT 1 /*! ; DELETE FROM t */')).toMatch(/`;` inside/);
    expect(problem('SELECT 1 /*! + 1')).toMatch(/unterminated/);
    // a # comment inside swallows the */ (as in MariaDB), leaving it open
    expect(problem('SELECT 1 /*! + 1 # x */\n + 5')).toMatch(/unterminated/);
  });
});

describe('problems: what the DAL refuses to guess', () => {
  it.each([
    ["SELECT 'abc", /unterminated string/],
    ['SELECT `abc', /unterminated `identifier`/],
    ['SELECT 1 /* open', /unterminated \/\* comment/],
    ['SELECT \\N', /character "\\\\"/],
    ["SELECT {d '2020-01-01'}", /character "\{"/],
    ['SELECT 1\x01', /character "\\\\x01"/],
    ['SELECT 1a', /starts with a digit/],
    ['SELECT 1e5x', /starts with a digit/],
    ['SELECT 0x', /starts with a digit/],
    ['SELECT 0X41', /starts with a digit/],
    ["SELECT X'4'", /even number of hex digits/],
    ['SELECT a : b', /character ":"/],
    ['SELECT @', /without a variable name/],
    ['SELECT _utf8mb4 1', /introducer/],
    ['SELECT 1 /*ez:alow-ddl*/', /unknown hint ez:alow-ddl/],
  ])('%j', (sql, re) => {
    expect(problem(sql)).toMatch(re);
  });

  it('extends a statement with a problem to the end of the text (nothing after it is trusted)', () => {
    const text = "SELECT 1; SELECT 'x; DELETE FROM t; SELECT 3";
    const s = lexSql(text, V);
    expect(s).toHaveLength(2);
    expect(s[0].problem).toBeNull();
    expect(s[1].problem).toMatch(/unterminated/);
    expect(s[1].end).toBe(text.length);
  });
});

describe('statements', () => {
  it('splits at top-level ; and drops empty statements', () => {
    const s = lexSql("BEGIN; UPDATE t SET a = 'x;y' WHERE k = 1;; COMMIT;", V);
    expect(s.map((x) => x.digest)).toEqual(['BEGIN', 'UPDATE t SET a = ? WHERE k = ?', 'COMMIT']);
    expect(lexSql('  ; -- nothing\n ;', V)).toEqual([]);
  });

  it('never splits a compound statement: it runs to the end of the text', () => {
    expect(lexSql('CREATE PROCEDURE p() BEGIN UPDATE t SET a = 1; END; SELECT 1', V)).toHaveLength(1);
    expect(lexSql('BEGIN NOT ATOMIC UPDATE t SET a = 1; END; SELECT 1', V)).toHaveLength(1);
    expect(lexSql('IF 1 THEN DELETE FROM t; END IF; SELECT 1', V)).toHaveLength(1);
    expect(lexSql('begin; select 1', V)).toHaveLength(2);
  });

  it('gives each statement its span, literals and hints', () => {
    const text =
      "/*ez:read-your-writes*/ SELECT * FROM users WHERE id = 'u1'; /*ez:allow-ddl*/ ALTER TABLE t ADD c INT";
    const [a, b] = lexSql(text, V);
    expect(text.slice(a.start, a.end)).toBe("/*ez:read-your-writes*/ SELECT * FROM users WHERE id = 'u1'");
    expect(a.hints).toEqual(['read-your-writes']);
    expect(a.slots.map((x) => x.value)).toEqual(['u1']);
    expect(b.hints).toEqual(['allow-ddl']);
    expect(b.digest).toBe('/*ez:allow-ddl*/ ALTER TABLE t ADD c INT');
  });

  it('reads hints with blanks and several names, and only from comments', () => {
    expect(one('/* ez:allow-ddl, read-your-writes */ SELECT 1').hints).toEqual([
      'allow-ddl',
      'read-your-writes',
    ]);
    expect(one("SELECT '/*ez:allow-ddl*/'").hints).toEqual([]);
    expect(one('SELECT 1 -- ez:allow-ddl').hints).toEqual([]);
  });
});

describe('digests', () => {
  it('are equal for one shape: case, whitespace, comments, literal values and quoting do not matter', () => {
    const same = [
      "UPDATE orders SET state = 'a' WHERE shard_id = 5 AND id = 7",
      'update orders set state="b" where shard_id=6 and id=8',
      "UpDaTe /* x */ orders\n\tSET state = _utf8mb4'c' -- y\n WHERE shard_id = '5' AnD id = 9",
      'UPDATE orders SET state = ? WHERE shard_id = ? AND id = ?',
    ];
    for (const s of same)
      expect(digest(s), s).toBe('UPDATE orders SET state = ? WHERE shard_id = ? AND id = ?');
  });

  it('differ for different shapes: names, their case, operators, list lengths, hints', () => {
    const shapes = [
      'UPDATE orders SET state = ? WHERE shard_id = ?',
      'UPDATE orders SET state = ? WHERE shard_id > ?',
      'UPDATE orders SET state = ? WHERE id = ?',
      'UPDATE ORDERS SET state = ? WHERE shard_id = ?', // table names are case-sensitive
      'UPDATE `orders` SET state = ? WHERE shard_id = ?',
      'DELETE FROM orders WHERE shard_id IN (?)',
      'DELETE FROM orders WHERE shard_id IN (?, ?)',
      '/*ez:allow-ddl*/ UPDATE orders SET state = ? WHERE shard_id = ?',
      'UPDATE orders SET state = ? WHERE shard_id = ? /*! OR ? = ? */',
      'SELECT @x.y', // one user variable named x.y …
      'SELECT @x . y', // … is not @x, a dot and y
    ];
    expect(new Set(shapes.map(digest)).size).toBe(shapes.length);
  });

  it('upper-cases reserved words and the first word, keeps other words as written', () => {
    expect(digest('begin work')).toBe('BEGIN work');
    expect(digest('select status, `order` from Status where order_id = 1')).toBe(
      'SELECT status, `order` FROM Status WHERE order_id = ?',
    );
  });
});

describe('speed', () => {
  it('lexes and digests a short statement in a few microseconds (printed, not asserted)', () => {
    const sqls = [
      "UPDATE orders SET state = 'accepted', updated_at = NOW(6) WHERE shard_id = 17 AND id = 7290412234567680001",
      'SELECT * FROM orders WHERE id = ?',
    ];
    for (const sql of sqls) {
      for (let i = 0; i < 50_000; i++) lexSql(sql, V);
      const n = 200_000;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) lexSql(sql, V);
      const us = Number(process.hrtime.bigint() - t0) / n / 1000;
      console.log(`lex+digest ${us.toFixed(2)} µs/statement (${sql.length} chars)`);
      expect(us).toBeGreaterThan(0);
    }
  });
});
