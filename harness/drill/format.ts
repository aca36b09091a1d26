/** How drills read on a terminal: the live progress line, the results, the list of drill files. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fixturesDir } from '../../src/util/paths.js';
import type { RunResults } from './results.js';
import type { DrillProgress } from './run.js';
import { loadDrill } from './spec.js';

export function progressLine(p: DrillProgress): string {
  const errs = Object.entries(p.errors)
    .map(([c, n]) => `${c} ${n}`)
    .join(', ');
  return `[${(p.atMs / 1000).toFixed(1).padStart(6)} s] ${p.phase.padEnd(5)} ops ${p.ops} (${p.opsPerSec}/s)${errs ? `, errors: ${errs}` : ''}${p.faults.length ? `, faults: ${p.faults.join('; ')}` : ''}${p.detail ? ` — ${p.detail}` : ''}\n`;
}

export function formatResults(r: RunResults, runDir: string): string {
  const lines = [
    `drill ${r.drill.name} (seed ${r.drill.seed}, ${Math.round(r.drill.durationMs / 1000)} s): ${r.valid ? 'OK — every invariant holds' : 'FAILED'}`,
  ];
  for (const [name, c] of Object.entries(r.checks)) {
    lines.push(
      `  ${c.verdict.toUpperCase().padEnd(7)} ${name} (${c.checked} examined${c.reason ? `; ${c.reason}` : ''})`,
    );
    for (const v of c.violations.slice(0, 5)) lines.push(`           ${v}`);
    if (c.violations.length > 5) lines.push(`           … ${c.violations.length - 5} more in results.json`);
  }
  for (const line of r.summary) lines.push(`  ${line}`);
  lines.push(`  stored in ${runDir} (report.html)`);
  return lines.join('\n');
}

export interface DrillListEntry {
  name: string;
  file: string;
  durationMs: number;
  faults: string[];
  description?: string;
  latest: { verdict: 'ok' | 'failed'; at: string } | null;
  error?: string;
}

export function listDrills(dir: string | undefined, runsDir: string): DrillListEntry[] {
  const folder = resolve(dir ?? join(fixturesDir(), 'drills'));
  const files = readdirSync(folder)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort();
  return files.map((f) => {
    const file = join(folder, f);
    try {
      const d = loadDrill(file);
      const res = join(resolve(runsDir), d.name, 'latest', 'results.json');
      let latest: DrillListEntry['latest'] = null;
      if (existsSync(res)) {
        const r = JSON.parse(readFileSync(res, 'utf8')) as RunResults;
        latest = { verdict: r.valid ? 'ok' : 'failed', at: r.finishedAt };
      }
      return {
        name: d.name,
        file,
        durationMs: d.duration,
        faults: d.schedule.map((s) => s.nemesis),
        description: d.description,
        latest,
      };
    } catch (err) {
      return { name: f, file, durationMs: 0, faults: [], latest: null, error: (err as Error).message };
    }
  });
}

export function formatDrillList(list: DrillListEntry[]): string {
  if (list.length === 0) return 'no drill files';
  return list
    .map((d) =>
      d.error
        ? `${d.name.padEnd(24)} INVALID: ${d.error}`
        : `${d.name.padEnd(24)} ${String(Math.round(d.durationMs / 1000)).padStart(4)} s  ${(d.faults.join(', ') || 'no faults').padEnd(40)} ${d.latest ? `latest ${d.latest.verdict} ${d.latest.at}` : 'never run'}`,
    )
    .join('\n');
}
