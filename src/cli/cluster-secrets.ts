// Which cluster an ezctl command acts on, read cheaply from its argv before oclif parses it, so the
// command's process uses that cluster's secrets (<state>/<cluster>/secrets.json) with nothing exported.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { applySecretsEnv, readClusterSecrets, secretsFile } from '../shared/secrets.js';
import { errorMessage } from '../util/errors.js';
import { defaultTopologyPath } from '../util/paths.js';

/** A topology larger than this is not read here (loadTopology's limit, TOPOLOGY_MAX_BYTES). */
const TOPOLOGY_MAX_BYTES = 1 << 20;
/** A cluster name as the topology schema allows it. */
const CLUSTER_NAME_RE = /^[a-z][a-z0-9-]{0,31}$/;

export interface CommandCluster {
  /** absolute path of the topology file */
  topologyFile: string;
  /** absolute path of the state directory */
  stateDir: string;
}

/**
 * The topology file and state directory a command's argv and environment name, as oclif will parse
 * them: `--topology X`, `--topology=X`, `-t X`, `-tX`, `-t=X` (env EZCTL_TOPOLOGY, else the embedded
 * default), `--state-dir X`, `--state-dir=X` (env EZCTL_HOME, else ./.ezctl, as resolveStateDir in
 * src/launch/state.ts). The last of each wins; nothing after `--` counts; an empty value is unset.
 * Undefined when a flag is given without a value (the command reports that itself).
 */
export function commandCluster(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): CommandCluster | undefined {
  let topology: string | undefined;
  let stateDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') break;
    let name: 'topology' | 'stateDir' | undefined;
    let value: string | undefined;
    if (a === '--topology' || a === '-t') name = 'topology';
    else if (a === '--state-dir') name = 'stateDir';
    else if (a.startsWith('--topology=')) [name, value] = ['topology', a.slice('--topology='.length)];
    else if (a.startsWith('--state-dir=')) [name, value] = ['stateDir', a.slice('--state-dir='.length)];
    else if (a.startsWith('-t') && !a.startsWith('--'))
      [name, value] = ['topology', a.slice(a[2] === '=' ? 3 : 2)];
    if (!name) continue;
    if (value === undefined) {
      value = argv[i + 1];
      i++;
      if (value === undefined) return undefined;
    }
    if (name === 'topology') topology = value;
    else stateDir = value;
  }
  if (topology === '' || stateDir === '') return undefined;
  return {
    topologyFile: resolve(topology ?? (env.EZCTL_TOPOLOGY || defaultTopologyPath())),
    stateDir: resolve(stateDir ?? (env.EZCTL_HOME || '.ezctl')),
  };
}

/**
 * The cluster name of a topology file as loadTopology gives it: its top-level `name`, else the
 * file's base name without `.yaml`/`.yml`. Only `name` is read (no fences, no schema); undefined
 * when the file cannot be read or parsed, or the name is not one (the command reports the topology).
 */
export async function topologyName(file: string): Promise<string | undefined> {
  let text: string;
  try {
    if (statSync(file).size > TOPOLOGY_MAX_BYTES) return undefined;
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const { parseDocument } = await import('yaml');
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) return undefined;
  const name = doc.get('name');
  if (name === undefined || name === null) {
    const fromFile = basename(file).replace(/\.ya?ml$/i, '');
    return fromFile && fromFile !== '.' && fromFile !== '..' && !/[\\/\0]/.test(fromFile)
      ? fromFile
      : undefined;
  }
  return typeof name === 'string' && CLUSTER_NAME_RE.test(name) ? name : undefined;
}

export interface AppliedSecrets {
  file: string;
  /** the variables set (those the user had not exported) */
  applied: string[];
}

/**
 * Put the secrets of the command's cluster into `env` (default process.env), each variable only
 * where unset: GZS clients read EZ_GZS_TOKEN when made and mysqlAccount() reads the environment
 * when called, so doing this before the command runs is enough. Never throws: without a state dir,
 * a secrets file or a readable topology nothing happens; a secrets file that cannot be used is one
 * warning line on stderr (the command then runs with what the environment has).
 */
export async function applyCommandSecrets(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  warn: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<AppliedSecrets | undefined> {
  try {
    const where = commandCluster(argv, env);
    if (!where) return undefined;
    // cheap first: no cluster of this state dir has secrets → the topology is not even read
    if (!existsSync(where.stateDir)) return undefined;
    const any = readdirSync(where.stateDir).some((e) => existsSync(secretsFile(join(where.stateDir, e))));
    if (!any) return undefined;
    const name = await topologyName(where.topologyFile);
    if (!name) return undefined;
    const dir = join(where.stateDir, name);
    let secrets: ReturnType<typeof readClusterSecrets>;
    try {
      secrets = readClusterSecrets(dir);
    } catch (err) {
      warn(`ezctl: warning: ${errorMessage(err)} (running without the cluster's secrets)`);
      return undefined;
    }
    if (!secrets) return undefined;
    return { file: secretsFile(dir), applied: applySecretsEnv(secrets, env) };
  } catch {
    return undefined;
  }
}
