// `ezctl links list`: every link on the link server with its toxics.
import { EzCommand } from '../../src/cli/command.js';
import type { LinkRow } from '../../src/links/cli.js';
import { toxiproxyFlag } from '../../src/links/flags.js';

export default class LinksList extends EzCommand {
  static override summary = 'List the links (proxies) on the link server, with their faults (toxics)';
  static override examples = [
    '<%= config.bin %> links list',
    '<%= config.bin %> links list --toxiproxy http://127.0.0.1:8474 --json',
  ];
  static override flags = { toxiproxy: toxiproxyFlag };

  async run(): Promise<{ url: string; links: LinkRow[] }> {
    const { flags } = await this.parse(LinksList);
    const { describeToxic, linksContext, listLinks } = await import('../../src/links/cli.js');
    const { topology, url } = linksContext(flags);
    const links = await listLinks(url, topology);
    if (!this.jsonEnabled()) {
      if (links.length === 0) this.log(`no links on ${url}`);
      const w = Math.max(4, ...links.map((l) => l.name.length));
      for (const l of links) {
        const faults = l.toxics.map(describeToxic).join(', ') || '-';
        this.log(
          `${l.name.padEnd(w)}  ${l.listen} -> ${l.upstream}  ${l.enabled ? 'enabled ' : 'DISABLED'}  ${faults}`,
        );
      }
    }
    return { url, links };
  }
}
