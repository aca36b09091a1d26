// The hosts of a cluster (topology `hosts`): which machine runs what, the address its parts bind
// to and peers reach them by, and how the control machine reaches it (ssh). `local` is always
// there: this machine on 127.0.0.1.
import { isLoopback } from '../shared/secrets.js';
import { quote } from '../util/validation.js';
import { HOST_NAME_RE, LOCAL_HOST, SSH_URL_RE, type TopologyFile } from './schema.js';
import type { HostEntry, Topology, ZoneId, ZonePart } from './types.js';

/** Where a remote host keeps the project and the clusters' data when the topology names no `dir`. */
export const DEFAULT_REMOTE_DIR = '/var/lib/ezctl';

/**
 * Resolve and cross-check `hosts` and every `host:` of the deployment. `fail(path, message)`
 * throws the loader's one-line error.
 */
export function resolveHosts(
  t: Pick<TopologyFile, 'hosts' | 'deployment'>,
  zoneIds: readonly ZoneId[],
  fail: (path: string, message: string) => never,
): Record<string, HostEntry> {
  const hosts: Record<string, HostEntry> = {
    [LOCAL_HOST]: { name: LOCAL_HOST, address: '127.0.0.1', dir: '' },
  };
  for (const [name, h] of Object.entries(t.hosts)) {
    const path = `hosts.${name}`;
    if (name === LOCAL_HOST)
      fail(path, `"${LOCAL_HOST}" is reserved (this machine on 127.0.0.1); name the host otherwise`);
    if (!HOST_NAME_RE.test(name))
      fail(path, `bad host name ${quote(name)}: expected [a-z][a-z0-9-]{0,31}, e.g. bj-db1`);
    if (!h.ssh) {
      if (!h.address)
        fail(
          path,
          'give ssh (a remote host: ssh://user@address[:port]) or address (this machine on an address the other hosts reach)',
        );
      for (const k of ['key', 'knownHosts', 'dir'] as const)
        if (h[k] !== undefined) fail(`${path}.${k}`, 'only for a remote host (one with ssh)');
      hosts[name] = { name, address: h.address!, dir: '' };
      continue;
    }
    const m = SSH_URL_RE.exec(h.ssh)!;
    const port = m[3] === undefined ? 22 : Number(m[3]);
    if (port < 1 || port > 65535) fail(`${path}.ssh`, `port ${m[3]} out of range (1..65535)`);
    const sshAddress = m[2].replace(/^\[|\]$/g, '');
    hosts[name] = {
      name,
      address: h.address ?? sshAddress,
      ssh: { user: m[1], address: sshAddress, port },
      ...(h.key ? { key: h.key } : {}),
      ...(h.knownHosts ? { knownHosts: h.knownHosts } : {}),
      dir: (h.dir ?? DEFAULT_REMOTE_DIR).replace(/\/+$/, ''),
    };
  }

  const known = `(declared: ${Object.keys(hosts).join(', ')})`;
  const ref = (path: string, name: string): HostEntry => {
    const h = hosts[name];
    if (!h)
      fail(
        path,
        `unknown host ${quote(name)} ${known}; declare it under hosts, e.g. ${name}: { ssh: ssh://root@10.0.0.5, dir: /srv/ezctl }`,
      );
    return h!;
  };
  const d = t.deployment;
  const used: { path: string; host: HostEntry; reachedByOthers: boolean }[] = [
    { path: 'deployment.gzs.host', host: ref('deployment.gzs.host', d.gzs.host), reachedByOthers: true },
    {
      path: 'deployment.router.host',
      host: ref('deployment.router.host', d.router.host),
      reachedByOthers: false,
    },
  ];
  if (d.links) {
    const h = ref('deployment.links.host', d.links.host);
    if (h.ssh)
      fail(
        'deployment.links.host',
        `the link server runs on the control machine (its Toxiproxy API has no authentication and stays on loopback); put it on ${LOCAL_HOST} or a host without ssh`,
      );
    used.push({ path: 'deployment.links.host', host: h, reachedByOthers: true });
  }
  if (d.zookeeper)
    used.push({
      path: 'deployment.zookeeper.host',
      host: ref('deployment.zookeeper.host', d.zookeeper.host),
      reachedByOthers: true,
    });
  for (const z of zoneIds) {
    const dz = d.zones[z];
    if (!dz) continue;
    used.push({
      path: `deployment.zones.${z}.host`,
      host: ref(`deployment.zones.${z}.host`, dz.host),
      reachedByOthers: true,
    });
    for (const [part, name] of Object.entries(dz.parts ?? {}))
      if (name !== undefined)
        used.push({
          path: `deployment.zones.${z}.parts.${part}`,
          host: ref(`deployment.zones.${z}.parts.${part}`, name),
          reachedByOthers: true,
        });
  }
  // Parts on a remote host reach the others by address: nothing they need may sit on a loopback.
  const remote = used.find((u) => u.host.ssh);
  if (remote) {
    for (const u of used) {
      if (u.reachedByOthers && isLoopback(u.host.address))
        fail(
          u.path,
          `${quote(u.host.name)} is on loopback (${u.host.address}), but ${remote.path} is the remote host ${quote(remote.host.name)}, which cannot reach it; use a host with an address the others reach (e.g. hosts: { control: { address: 10.231.0.1 } })`,
        );
    }
  }
  return hosts;
}

/** The host a topology entry names. */
export function hostEntry(topology: Pick<Topology, 'hosts'>, name: string): HostEntry {
  const h = topology.hosts[name];
  if (!h) throw new Error(`host ${JSON.stringify(name)} is not in the topology's hosts`);
  return h;
}

/** The address the parts on host `name` bind to and are reached by. */
export const hostAddress = (topology: Pick<Topology, 'hosts'>, name: string): string =>
  hostEntry(topology, name).address;

/** The address eZone `zone`'s `part` binds to and is reached by (its host: `deployment.zones.<zone>.parts`). */
export const partAddress = (topology: Topology, zone: ZoneId, part: ZonePart): string =>
  hostAddress(topology, topology.deployment.zones[zone].parts[part]);

/** True when any part of the cluster runs on a remote (ssh) host. */
export const hasRemoteHosts = (topology: Pick<Topology, 'hosts'>): boolean =>
  Object.values(topology.hosts).some((h) => h.ssh !== undefined);

/** True when some part binds off loopback (then the cluster needs its own secrets). */
export function leavesLoopback(topology: Topology): boolean {
  const d = topology.deployment;
  const names = [
    d.gzs.host,
    d.router.host,
    d.links?.host,
    d.zookeeper?.host,
    ...Object.values(d.zones).flatMap((z) => [z.host, ...Object.values(z.parts)]),
  ];
  return names.some((n) => n !== undefined && !isLoopback(hostAddress(topology, n)));
}
