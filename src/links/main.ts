#!/usr/bin/env node
/**
 * Standalone link server: `node dist/src/links/main.js [--host 127.0.0.1] [--port 8474]
 * [--seed N] [--config proxies.json]`. JSON log lines on stdout; exits 0 on SIGTERM, 2 on bad flags.
 */
import { parseArgs } from 'node:util';
import { serveLinks } from './serve.js';

function fail(message: string, code: number): never {
  process.stderr.write(`links: ${message}\n`);
  process.exit(code);
}

let values: { host?: string; port?: string; seed?: string; config?: string };
try {
  ({ values } = parseArgs({
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      seed: { type: 'string' },
      config: { type: 'string' },
    },
    strict: true,
  }));
} catch (err) {
  fail(`${(err as Error).message} (usage: main.js [--host H] [--port N] [--seed N] [--config FILE])`, 2);
}
const int = (name: string, text: string | undefined, max: number): number | undefined => {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) > max)
    fail(`--${name}: expected an integer 0..${max}, got "${text}"`, 2);
  return Number(text);
};
const port = int('port', values.port, 65535);
const seed = int('seed', values.seed ?? process.env.EZ_LINKS_SEED, 2 ** 32 - 1);
serveLinks({ host: values.host, port, seed, config: values.config }).catch((err) =>
  fail((err as Error).message, 1),
);
