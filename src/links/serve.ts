import { readFileSync } from 'node:fs';
import { onShutdown } from '../util/ops.js';
import { LinkServer, type LinkServerOptions } from './server.js';

export interface ServeOptions extends LinkServerOptions {
  /** a JSON file with a list of proxies to create at start (Toxiproxy's -config), toxics allowed */
  config?: string;
}

/**
 * Run the link server as a long-running process: listen, optionally populate from a file, stop
 * cleanly on SIGTERM/SIGINT. Resolves once listening.
 */
export async function serveLinks(opts: ServeOptions): Promise<LinkServer> {
  const server = new LinkServer(opts);
  const { url } = await server.listen();
  onShutdown(server.log, () => server.close());
  if (opts.config) {
    let list: unknown;
    try {
      list = JSON.parse(readFileSync(opts.config, 'utf8'));
    } catch (err) {
      await server.close();
      throw new Error(`${opts.config}: cannot read proxies (${(err as Error).message})`);
    }
    try {
      const proxies = await server.proxies.populate(list);
      server.log.info({ config: opts.config, proxies: proxies.length }, 'populated proxies from file');
    } catch (err) {
      await server.close();
      throw new Error(`${opts.config}: ${(err as Error).message}`);
    }
  }
  server.log.info({ url }, 'ready');
  return server;
}
