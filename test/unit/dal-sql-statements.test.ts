// The table of tricky statements in docs/dal.md ("Statements"), checked row by row: classify and
// bind each one against the table's schema, so the document and the code cannot drift apart.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bind, slotValues } from '../../src/dal/sql/bind.js';
import { StatementClassifier } from '../../src/dal/sql/classify.js';
import type { SqlValue } from '../../src/dal/sql/lexer.js';
import type { DalSchema } from '../../src/dal/sql/types.js';
import { projectRoot } from '../../src/util/paths.js';

const SCHEMA: DalSchema = {
  database: 'ezdb',
  tables: new Map([
    ['orders', { kind: 'sharded', shardColumn: 'shard_id', orderIdColumn: 'id', primaryKey: ['id'] }],
    ['users', { kind: 'global', primaryKey: ['id'] }],
    ['audit_log', { kind: 'local', primaryKey: ['id'] }],
  ]),
};

interface Row {
  sql: string;
  params: SqlValue[];
  outcome: string;
  why: string;
}

/** Split a markdown table row at unescaped `|`, unescaping `\|`. */
function cells(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 1; i < line.length - 1; i++) {
    if (line[i] === '\\' && line[i + 1] === '|') {
      cur += '|';
      i++;
    } else if (line[i] === '|') {
      out.push(cur.trim());
      cur = '';
    } else cur += line[i];
  }
  out.push(cur.trim());
  return out;
}

/** The rows of the table whose header is `| statement | outcome | why |`. */
function statementTable(markdown: string): Row[] {
  const lines = markdown.split('\n');
  const head = lines.findIndex((l) => /^\|\s*statement\s*\|\s*outcome\s*\|\s*why\s*\|\s*$/.test(l));
  expect(head, 'the statements table in docs/dal.md').toBeGreaterThan(0);
  const rows: Row[] = [];
  for (const line of lines.slice(head + 2)) {
    if (!line.startsWith('|')) break;
    const [stmt, outcome, why] = cells(line);
    // `sql` or ``sql with `backticks` ``, then optionally: with [json params]
    const m = /^(`+) ?(.*?) ?\1(?: with `(.*)`)?$/.exec(stmt);
    expect(m, `a statement cell: ${stmt}`).not.toBeNull();
    rows.push({
      sql: m![2].replaceAll('⏎', '\n'),
      params: m![3] === undefined ? [] : (JSON.parse(m![3]) as SqlValue[]),
      outcome,
      why,
    });
  }
  return rows;
}

/** What the DAL does with a text: allow (with the one shard written, if any) or the refusal's code. */
function outcomeOf(
  c: StatementClassifier,
  sql: string,
  params: SqlValue[],
): { outcome: string; detail: string } {
  const r = c.classifyText(sql);
  if (r.refused !== null) return { outcome: r.refused.code, detail: r.refused.message };
  const shards = new Set<number>();
  for (const { statement, plan } of r.statements) {
    const b = bind(plan, slotValues(statement, params));
    if (!b.ok) return { outcome: b.refusal.code, detail: b.refusal.message };
    if (b.shard !== null) shards.add(b.shard);
  }
  if (shards.size > 1) return { outcome: 'several shards', detail: [...shards].join(', ') };
  return { outcome: shards.size === 1 ? `allow shard=${[...shards][0]}` : 'allow', detail: '' };
}

const rows = statementTable(readFileSync(join(projectRoot(), 'docs', 'dal.md'), 'utf8'));

describe('docs/dal.md: tricky statements', () => {
  it('has at least 30 rows, each with an outcome the table defines', () => {
    expect(rows.length).toBeGreaterThanOrEqual(30);
    for (const r of rows) expect(r.outcome, r.sql).toMatch(/^(allow|allow shard=\d+|EZ_[A-Z_]+)$/);
    expect(new Set(rows.map((r) => `${r.sql} ${JSON.stringify(r.params)}`)).size).toBe(rows.length);
  });

  const c = new StatementClassifier(SCHEMA, { serverVersion: 101119 });
  it.each(rows.map((r) => [r.sql.replaceAll('\n', '⏎'), r] as const))('%s', (_name, r) => {
    const got = outcomeOf(c, r.sql, r.params);
    expect(got.outcome, `${r.why} — DAL said: ${got.detail}`).toBe(r.outcome);
    // a refusal message starts with its code word (DESIGN §4), never with a bare reason
    if (got.outcome.startsWith('EZ_')) expect(got.detail.startsWith(`${got.outcome} `)).toBe(true);
  });

  it('gives the same outcomes from the cache (every row again)', () => {
    const before = c.stats.hits;
    for (const r of rows) expect(outcomeOf(c, r.sql, r.params).outcome, r.sql).toBe(r.outcome);
    expect(c.stats.hits).toBeGreaterThan(before);
  });
});
