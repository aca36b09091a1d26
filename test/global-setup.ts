/**
 * Safety net of `npm test`: one scratch directory per run (EZ_TEST_RUN_DIR) and a pid directory
 * (EZ_TEST_PID_DIR) where every process the test helpers and the launcher start is recorded
 * (src/launch/host.ts). Teardown kills every recorded pid that still runs — SIGTERM, then SIGKILL —
 * and removes the scratch directory, so no mariadbd/redis-server/java outlives a failed or timed
 * out test. Vitest exports the environment set here to its test workers.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostFor, terminate } from '../src/launch/host.js';

export default function setup(): () => Promise<void> {
  const runDir = mkdtempSync(join(tmpdir(), 'ezt-'));
  const pidDir = join(runDir, 'pids');
  mkdirSync(pidDir);
  process.env.EZ_TEST_RUN_DIR = runDir;
  process.env.EZ_TEST_PID_DIR = pidDir;
  return async () => {
    const reaped = await reapRecordedPids(pidDir);
    if (reaped.length > 0) {
      process.stderr.write(
        `global teardown: stopped ${reaped.length} leftover process(es): ${reaped.join(', ')}\n`,
      );
    }
    rmSync(runDir, { recursive: true, force: true });
  };
}

/** Stop every recorded pid that still runs (same start token: never a recycled pid). */
export async function reapRecordedPids(pidDir: string): Promise<string[]> {
  const host = hostFor('local');
  const reaped: string[] = [];
  let files: string[] = [];
  try {
    files = readdirSync(pidDir).filter((f) => f.endsWith('.json'));
  } catch {
    return reaped;
  }
  await Promise.all(
    files.map(async (f) => {
      try {
        const rec = JSON.parse(readFileSync(join(pidDir, f), 'utf8')) as {
          pid: number;
          cmd: string;
          startToken: string;
        };
        if (!(await host.isAlive(rec.pid, rec.startToken || undefined))) return;
        await terminate(host, rec.pid, { startToken: rec.startToken || undefined, graceMs: 5000 });
        reaped.push(`${rec.cmd} (pid ${rec.pid})`);
      } catch {
        // a half-written record or a pid that vanished meanwhile: nothing to do
      }
    }),
  );
  return reaped;
}
