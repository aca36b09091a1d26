// `ezctl links serve`: the built-in link server in the foreground until Ctrl-C.
import { Flags } from '@oclif/core';
import { EzCommand, untilSignal } from '../../src/cli/command.js';

export default class LinksServe extends EzCommand {
  static override summary = 'Run the built-in link server (Toxiproxy HTTP API) in the foreground';
  static override description =
    "Serves the Toxiproxy 2.12 HTTP API plus /healthz and Prometheus /metrics on one port; JSON log lines on stdout; stops cleanly on SIGTERM/SIGINT. Default port: the topology's deployment.links port (8474, Toxiproxy's, when the topology has none).";
  static override examples = [
    '<%= config.bin %> links serve',
    '<%= config.bin %> links serve --port 8474 --seed 42',
  ];
  static override flags = {
    port: Flags.integer({ description: 'API port (0 = any free port)', min: 0, max: 65535 }),
    host: Flags.string({ description: 'API address', default: '127.0.0.1' }),
    seed: Flags.integer({
      description: 'seed of jitter, toxicity and slicing draws (replayable drills)',
      min: 0,
      env: 'EZ_LINKS_SEED',
    }),
    config: Flags.string({ description: 'JSON file with a list of proxies (and toxics) to create at start' }),
  };

  async run(): Promise<{ url: string; seed: number; stoppedBy: string }> {
    const { flags } = await this.parse(LinksServe);
    const [{ startLinkServer }, { loadTopology }] = await Promise.all([
      import('../../src/links/server.js'),
      import('../../src/topology/index.js'),
    ]);
    const port = flags.port ?? loadTopology(flags.topology).deployment.links?.port ?? 8474;
    const server = await startLinkServer({ host: flags.host, port, seed: flags.seed, config: flags.config });
    this.logToStderr(`links: listening on ${server.url} (seed ${server.seed}); Ctrl-C stops it`);
    const stoppedBy = await untilSignal();
    const result = { url: server.url, seed: server.seed, stoppedBy };
    await server.close();
    return result;
  }
}
