// A table's Redis key pattern (`order:{id}`) compiled to a function of a row.
import type { Row } from '../shared/row-version.js';

/**
 * A table's Redis key pattern from the topology (`cacheKey: "order:{id}"`): each `{column}` is
 * filled from the row. Returns null when a column is missing or NULL in the row.
 */
export function compileKeyPattern(pattern: string): (row: Row) => string | null {
  const parts = pattern.split(/(\{[A-Za-z_][A-Za-z0-9_]*\})/).filter((p) => p !== '');
  const fns = parts.map((p) => {
    const m = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(p);
    if (!m) return () => p;
    const col = m[1];
    return (row: Row): string | null => {
      const v = row[col];
      if (v === null || v === undefined) return null;
      return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
    };
  });
  return (row) => {
    let out = '';
    for (const f of fns) {
      const s = f(row);
      if (s === null) return null;
      out += s;
    }
    return out;
  };
}

/** The columns a pattern reads. */
export const keyColumns = (pattern: string): string[] =>
  [...pattern.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]);
