/**
 * Failpoints (as etcd's gofail or Vitess's failpoints): named places in the switch driver and in
 * GZS where a test makes the process die for real, to prove every step survives a crash. Off
 * unless armed: `EZ_FAILPOINTS=switch.after-lock=kill,gzs.switch.commit.after=kill`, or a file
 * named by EZ_FAILPOINTS_FILE holding the same list (re-read when it changes, so a test arms and
 * disarms a running process). Only `kill` (SIGKILL of this very process: no cleanup) is an action.
 */
import { readFileSync, statSync } from 'node:fs';

const parse = (text: string): Map<string, string> => {
  const m = new Map<string, string>();
  for (const item of text.split(/[,\n]/)) {
    const [name, action] = item.split('=').map((s) => s.trim());
    if (name) m.set(name, action || 'kill');
  }
  return m;
};

const fromEnv = parse(process.env.EZ_FAILPOINTS ?? '');
const file = process.env.EZ_FAILPOINTS_FILE;
let fileStamp = -1;
let fromFile = new Map<string, string>();

function armed(): Map<string, string> | null {
  if (file) {
    let stamp = 0;
    try {
      stamp = statSync(file).mtimeMs;
    } catch {
      stamp = 0; // no file: nothing armed from it
    }
    if (stamp !== fileStamp) {
      fileStamp = stamp;
      try {
        fromFile = stamp ? parse(readFileSync(file, 'utf8')) : new Map();
      } catch {
        fromFile = new Map();
      }
    }
  }
  if (fromEnv.size === 0 && fromFile.size === 0) return null;
  return new Map([...fromEnv, ...fromFile]);
}

/** Die here when the failpoint `name` is armed. */
export function failpoint(name: string): void {
  if (!file && fromEnv.size === 0) return;
  const action = armed()?.get(name);
  if (action === 'kill') {
    process.stderr.write(`failpoint ${name}: SIGKILL\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}
