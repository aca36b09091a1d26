// `ezctl gzs serve`: GZS in the foreground until Ctrl-C.
import { Flags } from '@oclif/core';
import { EzCommand, untilSignal } from '../../src/cli/command.js';

export default class GzsServe extends EzCommand {
  static override summary = 'Run GZS in the foreground (what `ezctl up` starts as the gzs process)';
  static override description =
    'Store: file:<path> (default: the table file `ezctl up` uses, under the state dir) or ' +
    'zk:<host:port,...>/<path> for several GZS instances over one ZooKeeper. The change API needs the ' +
    'bearer token (--token, else EZ_GZS_TOKEN, else the development token "ezctl-dev-token"). JSON log ' +
    'lines on stdout; stops cleanly on SIGTERM/SIGINT.';
  static override examples = [
    '<%= config.bin %> gzs serve',
    '<%= config.bin %> gzs serve --port 27101 --store zk:127.0.0.1:27181/ezctl/two-zones/gzs',
  ];
  static override flags = {
    port: Flags.integer({
      description: "port (0 = any free one) [default: the topology's deployment.gzs]",
      min: 0,
      max: 65535,
    }),
    host: Flags.string({ description: 'address to listen on', default: '127.0.0.1' }),
    store: Flags.string({ description: 'file:<path> or zk:<host:port,...>/<path>', env: 'EZ_GZS_STORE' }),
    token: Flags.string({ description: 'bearer token of the change API', env: 'EZ_GZS_TOKEN' }),
    'lease-ms': Flags.integer({ description: 'holder lease in ms', min: 100, default: 3000 }),
    instance: Flags.string({ description: 'instance id (acks, logs) [default: the pid]' }),
  };

  async run(): Promise<{ url: string; epoch: number; stoppedBy: string }> {
    const { flags } = await this.parse(GzsServe);
    const [{ startGzs }, { loadTopology }] = await Promise.all([
      import('../../src/gzs/serve.js'),
      import('../../src/topology/index.js'),
    ]);
    const server = await startGzs({
      topology: loadTopology(flags.topology),
      port: flags.port,
      host: flags.host,
      store: flags.store,
      token: flags.token,
      leaseMs: flags['lease-ms'],
      instance: flags.instance,
    });
    this.logToStderr(`gzs: listening on ${server.url} (epoch ${server.epoch}); Ctrl-C stops it`);
    const stoppedBy = await untilSignal();
    const result = { url: server.url, epoch: server.epoch, stoppedBy };
    await server.close();
    return result;
  }
}
