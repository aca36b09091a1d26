#!/usr/bin/env node
/**
 * GZS process entry (`node dist/src/gzs/main.js`), used by the `gzs` launcher kind:
 *   --topology FILE  --port N  --host ADDR  --store file:<path>|zk:<host:port,...>/<path>
 *   --token T (else EZ_GZS_TOKEN, else the development token)  --lease-ms N  --heartbeat-ms N
 *   --instance ID
 * Env fallbacks: EZCTL_TOPOLOGY, EZ_GZS_STORE, EZ_GZS_TOKEN. JSON log lines on stdout.
 */
import { parseArgs } from 'node:util';
import { serveGzs } from './serve.js';

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) {
    process.stderr.write(`gzs: --${name}: expected a non-negative integer, got ${JSON.stringify(v)}\n`);
    process.exit(2);
  }
  return Number(v);
}

let values: Record<string, string | undefined>;
try {
  values = parseArgs({
    options: {
      topology: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      store: { type: 'string' },
      token: { type: 'string' },
      'lease-ms': { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      instance: { type: 'string' },
    },
    strict: true,
  }).values as Record<string, string | undefined>;
} catch (err) {
  process.stderr.write(`gzs: ${(err as Error).message}\n`);
  process.exit(2);
}

serveGzs({
  topology: values.topology ?? (process.env.EZCTL_TOPOLOGY || undefined),
  port: int('port', values.port),
  host: values.host,
  store: values.store,
  token: values.token,
  leaseMs: int('lease-ms', values['lease-ms']),
  heartbeatMs: int('heartbeat-ms', values['heartbeat-ms']),
  instance: values.instance,
}).catch((err: Error) => {
  process.stderr.write(`gzs: ${err.message}\n`);
  process.exit(1);
});
