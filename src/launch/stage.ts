// A topology as a remote host's parts read it: the file, its fences and its SQL schema copied to
// the host (paths rewritten), so a part there loads the same cluster description as the control machine.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Topology } from '../topology/index.js';
import type { Host } from './host.js';
import type { SshHost } from './ssh-host.js';

const stageDir = (host: Host, file: string): string =>
  join((host as SshHost).entry.dir, 'topologies', createHash('sha1').update(file).digest('hex').slice(0, 12));

/** Where a part on `host` reads the topology loaded from `file` on the control machine. */
export const topologyOn = (host: Host, file: string): string =>
  host.remote ? join(stageDir(host, file), 'topology.json') : file;

/**
 * Copy the topology to a remote host (three files, each written atomically, in one ssh command): the parts there get
 * `--topology <staged path>`. Nothing to do for this machine.
 */
export async function stageTopology(host: Host, topology: Topology): Promise<string> {
  if (!host.remote) return topology.file;
  const dir = stageDir(host, topology.file);
  const raw = parse(readFileSync(topology.file, 'utf8')) as Record<string, unknown>;
  raw.name = topology.name; // the default name is the file's, and this file is topology.json
  raw.fences = join(dir, 'fences.geojson');
  raw.schema = join(dir, 'schema.sql');
  await host.writeFiles(dir, {
    'fences.geojson': readFileSync(topology.fencesFile, 'utf8'),
    'schema.sql': readFileSync(topology.schemaFile, 'utf8'),
    // JSON is YAML: the loader reads it as it reads the original
    'topology.json': `${JSON.stringify(raw, null, 2)}\n`,
  });
  return join(dir, 'topology.json');
}
