/**
 * The shape of the code base, checked: product code (src/) never imports the harness, the tests,
 * the benches or the commands; a part is used by other parts only through its public face
 * (`src/<part>/index.ts`); shared modules (util, shared, runtime, cli) may be imported file by file.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/util/paths.js';

const root = projectRoot();
const src = join(root, 'src');
/** folders of src/ that are not parts: neutral modules every part may use directly */
const SHARED = new Set(['util', 'shared', 'runtime', 'cli']);

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.tsx?$/.test(e)) out.push(p);
  }
  return out;
}

/** Every relative import (static, dynamic, re-export) of a TypeScript source. */
function importsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g))
    out.push(m[1]);
  return out;
}

/** The violations of the rules above for one file's imports (paths relative to the project root). */
function violations(file: string, specs: string[]): string[] {
  const bad: string[] = [];
  const part = relative(src, file).split('/')[0];
  for (const spec of specs) {
    const target = resolve(dirname(file), spec);
    const rel = relative(root, target);
    if (!rel.startsWith('src/')) {
      bad.push(`${relative(root, file)} imports ${rel} (outside src/)`);
      continue;
    }
    const [other, ...rest] = relative(src, target).split('/');
    if (other === part || SHARED.has(other)) continue;
    if (rest.length === 1 && rest[0] === 'index.js') continue;
    bad.push(`${relative(root, file)} imports ${rel} (not ${other}'s public face src/${other}/index.ts)`);
  }
  return bad;
}

describe('import graph', () => {
  const files = walk(src);

  it('has a public face (index.ts) for every part', () => {
    const parts = readdirSync(src).filter((d) => statSync(join(src, d)).isDirectory() && !SHARED.has(d));
    expect(parts).toEqual(
      expect.arrayContaining([
        'cache',
        'drc',
        'gzs',
        'launch',
        'links',
        'orders',
        'router',
        'routing',
        'sdk',
        'soa',
        'topology',
      ]),
    );
    for (const p of parts) expect(readdirSync(join(src, p)), `src/${p}`).toContain('index.ts');
  });

  it('keeps src/ free of harness/test/bench imports, and parts apart except through their faces', () => {
    const bad = files.flatMap((f) => violations(f, importsOf(readFileSync(f, 'utf8'))));
    expect(bad).toEqual([]);
  });

  it('flags what it must (the checker itself)', () => {
    const f = join(src, 'drc', 'main.ts');
    expect(violations(f, ['../../harness/links/link-set.js'])).toHaveLength(1);
    expect(violations(f, ['../sdk/client.js'])).toHaveLength(1);
    expect(
      violations(f, ['../sdk/index.js', '../util/errors.js', './names.js', '../shared/row-version.js']),
    ).toEqual([]);
    expect(
      importsOf("import a from './a.js';\nexport { b } from '../b/index.js';\nawait import('../c/d.js');"),
    ).toEqual(['./a.js', '../b/index.js', '../c/d.js']);
  });
});
