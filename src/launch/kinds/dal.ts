/**
 * Launcher kind `dal`: the DAL per eZone, in front of its MariaDB (on the same host: through its
 * unix socket, which costs far less per packet than loopback TCP; else TCP to MariaDB's host), Global-Zone writes to the
 * master's MariaDB through the link `<zone>-><master>:global` (the socket in the master itself).
 */
import { reach } from '../../topology/index.js';
import { formatHostPort } from '../../util/parse.js';
import { socketPathFor } from './mariadb.js';
import { nodePartKind, partSpec } from './node-part.js';

export const dal = nodePartKind({
  kind: 'dal',
  after: ['mariadb', 'gzs', 'links'],
  description:
    'DAL per eZone: MySQL-protocol proxy that refuses wrong-zone and locked writes; Global-Zone writes to the master',
  entry: 'src/dal/main.js',
  instances: (ctx) =>
    ctx.topology.zones.map((z) => {
      const d = ctx.topology.deployment.zones[z.id];
      const master = reach(ctx.topology, ctx.links.on, z.id, ctx.topology.globalMaster, 'global');
      // MariaDB on the DAL's host: its socket; on another host of the eZone: TCP to it
      const db = ctx.hostOf(z.id, 'mariadb');
      const backend =
        db.host === ctx.hostOf(z.id, 'dal').host
          ? socketPathFor(ctx.dataDir(z.id, 'mariadb'))
          : formatHostPort({ host: db.address, port: d.ports.mysql });
      const args = ['--ops-port', String(d.ports.dalHttp), '--backend', backend];
      if (z.id !== ctx.topology.globalMaster) args.push('--master', `${master.host}:${master.port}`);
      return partSpec(ctx, {
        kind: 'dal',
        zone: z.id,
        port: d.ports.dal,
        site: z.id,
        args,
        opsPort: d.ports.dalHttp,
      });
    }),
});
