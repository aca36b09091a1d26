/**
 * oclif `command_not_found` hook: an unknown command is a usage error (exit 2) that names the
 * commands there are; with `--json` it is the same `{"error":{code,message}}` document every
 * command prints for its errors (oclif's own answer goes to stderr only).
 */
import type { Hook } from '@oclif/core';

const hook: Hook<'command_not_found'> = async (opts) => {
  const topics = [...new Set(opts.config.commands.map((c) => c.id.split(':')[0]))].sort();
  const id = opts.id.replace(/:/g, ' ');
  const message = `unknown command "${id}" (commands: ${topics.join(', ')}; see ezctl --help)`;
  if ((opts.argv ?? []).includes('--json') || process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ error: { code: 'EZ_USAGE', message } }, null, 2)}\n`);
  } else {
    process.stderr.write(`ezctl: ${message}\n`);
  }
  process.exit(2);
};

export default hook;
