#!/usr/bin/env node
/**
 * The built-in link server as a process (`node dist/src/links/main.js`, the `links` launcher kind):
 * Toxiproxy's HTTP API plus /healthz and /metrics on one port, on the part runtime.
 */
import { flag } from '../runtime/flags.js';
import { runPart } from '../runtime/part.js';
import { startLinkServer } from './server.js';

await runPart({
  part: 'links',
  entry: 'src/links/main.js',
  summary: 'the built-in link server (Toxiproxy HTTP API) between eZones',
  flags: {
    host: flag.string('API address', { fallback: '127.0.0.1' }),
    port: flag.port("API port (0 = any free one); default: the topology's deployment.links, else 8474"),
    seed: flag.int('seed of jitter, toxicity and slicing draws (replayable drills)', 0, 2 ** 32 - 1),
    config: flag.file('JSON file with a list of proxies (and toxics) to create at start'),
  },
  async start({ flags, topology, log }) {
    const server = await startLinkServer({
      host: flags.host,
      port: flags.port ?? topology.deployment.links?.port ?? 8474,
      seed: flags.seed,
      config: flags.config,
      log,
    });
    return { close: () => server.close(), ready: { url: server.url, seed: server.seed } };
  },
});
