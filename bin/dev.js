#!/usr/bin/env node
import { execute } from '@oclif/core';
// Development entry: runs the TypeScript sources through tsx without a build.
// oclif's own dev mode does not find TypeScript commands in a top-level commands/ folder,
// so tsx is registered here and oclif is pointed at the sources.
import { register } from 'tsx/esm/api';

register();
await execute({
  development: true,
  dir: import.meta.url,
  loadOptions: { root: new URL('..', import.meta.url).pathname, pjson: undefined },
});
