// The test run's scratch directory and per-test temp dirs.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The per-run scratch directory. test/global-setup.ts creates it and exports EZ_TEST_RUN_DIR and
 * EZ_TEST_PID_DIR to every test worker; its teardown kills the pids recorded there and removes
 * the directory. Outside vitest's global setup (a script importing the helpers) the helpers make
 * their own and clean it up when the process exits.
 */
export function testRunDir(): string {
  let dir = process.env.EZ_TEST_RUN_DIR;
  if (!dir) {
    // short path under /tmp: MariaDB's unix socket path must stay under 108 bytes
    dir = mkdtempSync(join(tmpdir(), 'ezt-'));
    process.env.EZ_TEST_RUN_DIR = dir;
    const own = dir;
    process.once('exit', () => {
      killRecorded(join(own, 'pids'));
      rmSync(own, { recursive: true, force: true });
    });
  }
  if (!process.env.EZ_TEST_PID_DIR) process.env.EZ_TEST_PID_DIR = join(dir, 'pids');
  mkdirSync(process.env.EZ_TEST_PID_DIR, { recursive: true });
  return dir;
}

/** A fresh private directory inside the run directory. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(testRunDir(), `${prefix.replace(/[^A-Za-z0-9_-]/g, '_')}-`));
}

/** Synchronous last resort at process exit: SIGKILL every recorded pid that is still the same process. */
function killRecorded(pidDir: string): void {
  let files: string[] = [];
  try {
    files = readdirSync(pidDir);
  } catch {
    return;
  }
  for (const f of files) {
    try {
      const { pid, startToken } = JSON.parse(readFileSync(join(pidDir, f), 'utf8'));
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (!startToken || startToken === `${bootId}:${fields[19]}`) process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}
