#!/usr/bin/env node
// ezctl entry point. Commands are compiled to dist/ by `npm run build` (npm ci runs it via `prepare`).
import { existsSync } from 'node:fs';
import { execute, settings } from '@oclif/core';

if (!existsSync(new URL('../dist/commands', import.meta.url))) {
  process.stderr.write('ezctl: dist/ is missing; run `npm run build` (or `npm ci`, which builds) first\n');
  process.exit(2);
}
// Always the compiled commands: under NODE_ENV=test|development oclif would otherwise try to map
// dist/ back to the TypeScript sources (and warn). bin/dev.js is the way to run the sources.
settings.enableAutoTranspile = false;
await execute({ dir: import.meta.url });
