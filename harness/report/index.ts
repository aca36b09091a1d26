// report.html of a drill run: rendered from the run directory's history.jsonl and results.json.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readHistory } from '../history/store.js';
import { renderReport } from './html.js';

export { esc, MAX_SCATTER_POINTS, type ReportInput, referencedLines, renderReport } from './html.js';

/**
 * Read `history.jsonl` and `results.json` from a run directory (`runs/<drill>/<timestamp>/`) and
 * write `report.html` next to them; returns its path. A missing results.json renders as "no
 * checks" (verdict unknown); a missing history is an error.
 */
export function writeReport(runDir: string): string {
  const events = readHistory(join(runDir, 'history.jsonl'));
  let results: object = {};
  try {
    results = JSON.parse(readFileSync(join(runDir, 'results.json'), 'utf8')) as object;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const out = join(runDir, 'report.html');
  writeFileSync(out, renderReport({ events, results }));
  return out;
}
