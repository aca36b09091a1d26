/**
 * The DAL's statement classifier: a plan per statement (read, write with its shard sources, DDL,
 * transaction control, session, or a refusal), cached by digest. Plain reads are decided from
 * tokens; everything else that needs structure is parsed by node-sql-parser 5.4 (MariaDB).
 */
import pkg from 'node-sql-parser';
import { ddlObjectRefusal, ddlPlan } from './ddl.js';
import { type DmlContext, deletePlan, insertPlan, lockingReadPlan, updatePlan } from './dml.js';
import { type LexedStatement, type LexOptions, lexSql, Tok, type Token } from './lexer.js';
import { Lru } from './lru.js';
import { denied, refused } from './refusal.js';
import { planOfUse, setPlan, txnPlan } from './session.js';
import { namesIn, parserText, precedenceProblem, readHazard, tokensForParser, wordAt } from './tokens.js';
import type { DalSchema, Plan, Refusal, RefusedPlan } from './types.js';

const { Parser } = pkg;
const PARSE_OPTIONS = { database: 'MariaDB' };

/** Statements the DAL never lets through, and why (DESIGN §4 "deny unknown"; docs/dal.md). */
const DENIED_FIRST: Record<string, string> = {
  LOCK: 'LOCK TABLES: table locks outlive transactions, so the DAL could not fence a shard switch (DESIGN §6)',
  FLUSH: 'FLUSH is server administration: connect to MariaDB directly',
  KILL: 'KILL is server administration: connect to MariaDB directly',
  SHUTDOWN: 'SHUTDOWN is server administration: connect to MariaDB directly',
  RESET: 'RESET is server administration: connect to MariaDB directly',
  PURGE: 'PURGE is server administration: connect to MariaDB directly',
  CHANGE: 'replication settings are not changed through the DAL',
  STOP: 'replication control is not done through the DAL',
  BINLOG: 'BINLOG events are not applied through the DAL',
  INSTALL: 'plugins are not managed through the DAL',
  UNINSTALL: 'plugins are not managed through the DAL',
  GRANT: 'account management is not done through the DAL',
  REVOKE: 'account management is not done through the DAL',
  CALL: 'CALL: a stored procedure may write any table, which the DAL cannot see',
  PREPARE: 'SQL-level PREPARE hides its statement from the DAL: use the binary protocol (COM_STMT_PREPARE)',
  EXECUTE: 'SQL-level EXECUTE runs a statement the DAL has not seen: use the binary protocol',
  DEALLOCATE: 'SQL-level prepared statements are not supported: use the binary protocol',
  HANDLER: 'HANDLER reads and holds tables outside SQL the DAL can check',
  DO: 'DO evaluates expressions that may call stored functions or take locks: use SELECT for reads',
  XA: 'XA transactions can be prepared here and committed later or elsewhere, past a shard switch: not supported',
  ANALYZE: 'ANALYZE runs the statement or writes table statistics to the binlog: run it directly on MariaDB',
  OPTIMIZE: 'table maintenance is written to the binlog (DRC): run it directly on MariaDB',
  REPAIR: 'table maintenance is written to the binlog (DRC): run it directly on MariaDB',
  CHECK: 'table maintenance is not done through the DAL: run it directly on MariaDB',
  CHECKSUM: 'table maintenance is not done through the DAL: run it directly on MariaDB',
  BACKUP: 'backups are not taken through the DAL',
  CACHE: 'key caches are server administration',
  SIGNAL: 'SIGNAL/RESIGNAL belong in stored programs, which the DAL refuses',
  RESIGNAL: 'SIGNAL/RESIGNAL belong in stored programs, which the DAL refuses',
  GET: 'GET DIAGNOSTICS is not supported through the DAL',
  BEGIN:
    'BEGIN NOT ATOMIC … END: a compound statement may write anything; the DAL does not classify its body',
};
for (const w of ['IF', 'CASE', 'LOOP', 'WHILE', 'REPEAT', 'FOR', 'DECLARE'])
  DENIED_FIRST[w] = `${w}: a compound statement may write anything; the DAL does not classify its body`;

export interface ClassifierOptions extends LexOptions {
  /** plans kept by digest (default 10,000) */
  cacheSize?: number;
}

export interface SessionState {
  /** the session's database (default: the schema's); USE plans report the next one */
  database?: string | null;
}

export interface ClassifiedStatement {
  statement: LexedStatement;
  plan: Plan;
}

export interface ClassifiedText {
  statements: readonly ClassifiedStatement[];
  /** the first refusal among the statements: the proxy refuses the whole text when it is set */
  refused: Refusal | null;
  /** the session's database after the text's USE statements */
  database: string | null;
}

export interface ClassifierStats {
  hits: number;
  misses: number;
  /** node-sql-parser calls (cache misses that needed structure) */
  parses: number;
  /** plans not cached: lexical problems, and DDL (parsed with its literals) */
  uncached: number;
  size: number;
}

/** The plan of a statement built without the cache; `cache: false` when it may not be reused. */
interface Built {
  plan: Plan;
  cache: boolean;
}

export class StatementClassifier {
  private readonly cache: Lru<string, Plan>;
  private readonly parser = new Parser();
  private readonly counters = { hits: 0, misses: 0, parses: 0, uncached: 0 };

  constructor(
    readonly schema: DalSchema,
    private readonly options: ClassifierOptions = {},
  ) {
    for (const [name, t] of schema.tables) {
      if (t.kind === 'sharded' && t.shardColumn === undefined && t.orderIdColumn === undefined)
        throw new RangeError(`DAL schema: sharded table ${name} names neither shardColumn nor orderIdColumn`);
    }
    this.cache = new Lru(options.cacheSize ?? 10_000);
  }

  get stats(): ClassifierStats {
    return { ...this.counters, size: this.cache.size };
  }

  /** Lex with this classifier's options (the server version decides /*!NNNNNN … *\/). */
  lex(text: string): LexedStatement[] {
    return lexSql(text, this.options);
  }

  /**
   * Classify a whole COM_QUERY text: a plan per statement, USE statements carried forward. The
   * proxy refuses the text if `refused` is set (one refused statement refuses them all).
   */
  classifyText(text: string, session: SessionState = {}): ClassifiedText {
    let database = session.database === undefined ? this.schema.database : session.database;
    const lexed = this.lex(text);
    if (lexed.length === 0) {
      const plan = denied({ digest: '', hints: [] }, 'an empty statement');
      return { statements: [], refused: plan.refusal, database };
    }
    const statements: ClassifiedStatement[] = [];
    let first: Refusal | null = null;
    for (const st of lexed) {
      const plan = this.classify(st, { database });
      statements.push({ statement: st, plan });
      if (plan.kind === 'refused') first ??= plan.refusal;
      if (plan.kind === 'session' && plan.use !== undefined) database = plan.use;
    }
    return { statements, refused: first, database };
  }

  /** Classify one lexed statement (cached by digest and the session's database). */
  classify(st: LexedStatement, session: SessionState = {}): Plan {
    const database = session.database === undefined ? this.schema.database : session.database;
    if (st.problem !== null) {
      this.counters.uncached++;
      return denied(
        { digest: st.digest, hints: st.hints },
        `the DAL cannot read the statement with certainty: ${st.problem}`,
      );
    }
    const key = database === this.schema.database ? st.digest : `${database ?? ''}\u0000${st.digest}`;
    const hit = this.cache.get(key);
    if (hit !== undefined) {
      this.counters.hits++;
      return hit;
    }
    this.counters.misses++;
    let built: Built;
    try {
      built = this.build(st, database);
    } catch (err) {
      // never crash on input: an unexpected AST shape is a statement the DAL cannot classify
      built = {
        plan: denied(
          { digest: st.digest, hints: st.hints },
          `the DAL could not classify the statement (${err instanceof Error ? err.name : 'error'})`,
        ),
        cache: true,
      };
    }
    if (built.cache) this.cache.set(key, built.plan);
    else this.counters.uncached++;
    return built.plan;
  }

  private parse(text: string): unknown {
    this.counters.parses++;
    return this.parser.astify(text, PARSE_OPTIONS);
  }

  private build(st: LexedStatement, database: string | null): Built {
    const ctx: DmlContext = {
      digest: st.digest,
      hints: st.hints,
      schema: this.schema,
      db: database,
      names: namesIn(st.tokens),
    };
    const t = st.tokens;
    let lead = 0;
    while (t[lead]?.kind === Tok.LParen) lead++;
    const w = wordAt(t, lead);
    if (lead > 0 && w !== 'SELECT' && w !== 'WITH' && w !== 'VALUES')
      return { plan: denied(ctx, 'a parenthesized statement that is not a query'), cache: true };

    switch (w) {
      case 'SELECT':
      case 'VALUES':
        return this.read(ctx, st, w);
      case 'WITH': {
        // the statement a CTE list leads to: the first DML keyword outside parentheses
        const main = mainOfWith(t, lead);
        if (main === 'SELECT') return this.read(ctx, st, 'WITH');
        if (main === 'UPDATE' || main === 'DELETE' || main === 'INSERT' || main === 'REPLACE')
          return this.dml(ctx, st);
        return { plan: denied(ctx, 'WITH … followed by a statement the DAL does not know'), cache: true };
      }
      case 'SHOW':
      case 'HELP':
        return { plan: { kind: 'read', digest: st.digest, hints: st.hints, statement: w }, cache: true };
      case 'EXPLAIN':
      case 'DESCRIBE':
      case 'DESC':
        if (wordAt(t, 1) === 'ANALYZE')
          return { plan: denied(ctx, `${w} ANALYZE runs the statement: not a read`), cache: true };
        return { plan: { kind: 'read', digest: st.digest, hints: st.hints, statement: w }, cache: true };
      case 'INSERT':
      case 'REPLACE':
      case 'UPDATE':
      case 'DELETE':
        return this.dml(ctx, st);
      case 'LOAD':
        return { plan: loadPlan(ctx, t), cache: true };
      case 'CREATE':
      case 'ALTER':
      case 'DROP':
      case 'RENAME':
      case 'TRUNCATE':
        return this.ddl(ctx, st);
      case 'START':
      case 'COMMIT':
      case 'ROLLBACK':
      case 'SAVEPOINT':
      case 'RELEASE':
        return { plan: txnPlan(ctx, t), cache: true };
      case 'BEGIN':
        if (wordAt(t, 1) === '' || wordAt(t, 1) === 'WORK') return { plan: txnPlan(ctx, t), cache: true };
        break;
      case 'SET':
        return { plan: setPlan(ctx, t), cache: true };
      case 'USE':
        return { plan: planOfUse(ctx, t), cache: true };
      case 'UNLOCK':
        if ((wordAt(t, 1) === 'TABLES' || wordAt(t, 1) === 'TABLE') && t.length === 2)
          return {
            plan: { kind: 'session', digest: st.digest, hints: st.hints, statement: 'UNLOCK TABLES' },
            cache: true,
          };
        break;
    }
    const why = DENIED_FIRST[w];
    return {
      plan: denied(
        ctx,
        why ?? `${w === '' ? 'a statement' : w} is not a statement the DAL knows (deny unknown)`,
      ),
      cache: true,
    };
  }

  /** A SELECT-like statement: a read unless it locks rows, writes a file or moves a sequence. */
  private read(ctx: DmlContext, st: LexedStatement, statement: string): Built {
    const hazard = readHazard(st.tokens);
    if (hazard === 'outfile')
      return {
        plan: denied(ctx, 'SELECT … INTO OUTFILE/DUMPFILE writes a file on the database host'),
        cache: true,
      };
    if (hazard === 'sequence')
      return {
        plan: denied(
          ctx,
          'NEXTVAL/SETVAL/NEXT VALUE FOR advances a SEQUENCE: a write to a table the topology does not describe',
        ),
        cache: true,
      };
    if (hazard === 'locking') return this.dml(ctx, st);
    return { plan: { kind: 'read', digest: st.digest, hints: st.hints, statement }, cache: true };
  }

  /** INSERT/REPLACE/UPDATE/DELETE and locking reads: parsed, then analysed (dml.ts). */
  private dml(ctx: DmlContext, st: LexedStatement): Built {
    const problem = precedenceProblem(st.tokens);
    if (problem !== null) return { plan: denied(ctx, problem), cache: true };
    let ast: unknown;
    const text = parserText(st, tokensForParser(st.tokens), 'params');
    try {
      ast = this.parse(text);
    } catch (err) {
      return { plan: parseGap(ctx, err, text), cache: true };
    }
    if (Array.isArray(ast)) {
      if (ast.length !== 1)
        return { plan: denied(ctx, 'node-sql-parser read several statements in one'), cache: true };
      ast = ast[0];
    }
    const a = ast as { type?: string };
    switch (a.type) {
      case 'insert':
      case 'replace':
        return { plan: insertPlan(ctx, a), cache: true };
      case 'update':
        return { plan: updatePlan(ctx, a), cache: true };
      case 'delete':
        return { plan: deletePlan(ctx, a), cache: true };
      case 'select':
        return { plan: lockingReadPlan(ctx, a), cache: true };
    }
    return {
      plan: denied(ctx, `node-sql-parser read a ${String(a.type)} statement where a write was expected`),
      cache: true,
    };
  }

  /** DDL: tables only (never cached: parsed with its literals, which DDL grammar needs). */
  private ddl(ctx: DmlContext, st: LexedStatement): Built {
    const objectRefusal = ddlObjectRefusal(ctx, st.tokens);
    if (objectRefusal !== null) return { plan: objectRefusal, cache: true };
    let ast: unknown;
    const text = parserText(st, st.tokens, 'values');
    try {
      ast = this.parse(text);
    } catch (err) {
      // DDL text carries its literals: name no position in it
      return { plan: parseGap(ctx, err, ''), cache: false };
    }
    if (Array.isArray(ast)) {
      if (ast.length !== 1)
        return { plan: denied(ctx, 'node-sql-parser read several statements in one'), cache: false };
      ast = ast[0];
    }
    return { plan: ddlPlan(ctx, ast), cache: false };
  }
}

/** The statement a `WITH` list leads to (its first DML keyword outside parentheses), or ''. */
function mainOfWith(t: readonly Token[], from: number): string {
  let depth = 0;
  for (let i = from + 1; i < t.length; i++) {
    const k = t[i].kind;
    if (k === Tok.LParen) depth++;
    else if (k === Tok.RParen) depth--;
    else if (depth === 0) {
      const w = wordAt(t, i);
      if (w === 'SELECT' || w === 'UPDATE' || w === 'DELETE' || w === 'INSERT' || w === 'REPLACE') return w;
    }
  }
  return '';
}

/** node-sql-parser could not parse it: deny, saying so (docs/dal.md lists the known gaps). */
function parseGap(ctx: DmlContext, err: unknown, text: string): RefusedPlan {
  // the parser's own message quotes the statement (literals included): give only where it stopped,
  // as the token of the re-spelled text (literals there are :pK, so no value is named)
  const col = (err as { location?: { start?: { offset?: number } } })?.location?.start?.offset;
  const at = typeof col === 'number' ? /^\S*/.exec(text.slice(col))?.[0].slice(0, 24) : undefined;
  return denied(
    ctx,
    `node-sql-parser 5.4 cannot parse this statement${at ? ` (stopped at ${JSON.stringify(at)})` : ''}; the DAL refuses what it cannot classify (docs/dal.md lists the known gaps)`,
  );
}

/** LOAD DATA / LOAD XML … INTO TABLE t: rows the statement does not show. */
function loadPlan(ctx: DmlContext, t: readonly Token[]): Plan {
  const kind = wordAt(t, 1);
  if (kind !== 'DATA' && kind !== 'XML') return denied(ctx, 'LOAD INDEX is server administration');
  let i = 2;
  while (i < t.length && !(wordAt(t, i) === 'INTO' && wordAt(t, i + 1) === 'TABLE')) i++;
  i += 2;
  const first = t[i];
  const name =
    first !== undefined && (first.kind === Tok.Ident || (first.kind === Tok.Word && !first.reserved))
      ? first.text
      : null;
  if (name === null) return denied(ctx, `LOAD ${kind} without a table the DAL can read`);
  let db: string | null = null;
  let table = name;
  if (t[i + 1]?.kind === Tok.Dot) {
    const second = t[i + 2];
    if (second === undefined || (second.kind !== Tok.Word && second.kind !== Tok.Ident))
      return denied(ctx, `LOAD ${kind} without a table the DAL can read`);
    db = name;
    table = second.text;
  }
  const r = resolveForLoad(ctx, db, table);
  if (r !== null) return r;
  const spec = ctx.schema.tables.get(table)!;
  if (spec.kind === 'sharded')
    return refused(
      ctx,
      'EZ_NO_SHARD_KEY',
      `LOAD ${kind}: the rows' shards are not in the statement; insert VALUES rows naming the shard key`,
      table,
    );
  return {
    kind: 'write',
    digest: ctx.digest,
    hints: ctx.hints,
    statement: 'LOAD DATA',
    lockingRead: false,
    scope: spec.kind,
    targets: [{ table, kind: spec.kind }],
  };
}

function resolveForLoad(ctx: DmlContext, db: string | null, table: string): RefusedPlan | null {
  const effective = db ?? ctx.db;
  if (effective !== ctx.schema.database)
    return refused(
      ctx,
      'EZ_UNKNOWN_TABLE',
      `LOAD on a table outside the topology's database ${ctx.schema.database}: the DAL writes only its tables`,
      `${effective ?? '(no database)'}.${table}`,
    );
  if (!ctx.schema.tables.has(table))
    return refused(
      ctx,
      'EZ_UNKNOWN_TABLE',
      'LOAD on a table the topology does not name: declare it (local, to allow writes here)',
      table,
    );
  return null;
}
