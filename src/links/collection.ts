// The link server's proxies by name: create, update, populate, remove.
import type { Logger } from '../util/log.js';
import { deriveSeed } from '../util/random.js';
import { ApiError, badBody, checkName, missingField, proxyExists, proxyNotFound } from './errors.js';
import { LinkProxy } from './proxy.js';
import { parseToxic, type ToxicSpec } from './toxic.js';

/** When a proxy body has no `listen`: loopback, any free port (Toxiproxy would take every interface). */
export const DEFAULT_LISTEN = '127.0.0.1:0';

export interface ProxyInput {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
  /** populate only (extension): the proxy's toxics, replacing any it had */
  toxics?: ToxicSpec[];
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badBody(`"${key}" must be a string, got ${JSON.stringify(v)}`);
  return v;
}

function optionalBool(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badBody(`"${key}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** A proxy from a create/populate body: name and upstream required, enabled defaults to true. */
export function parseProxyInput(body: unknown, where = '', allowToxics = false): ProxyInput {
  if (!isObject(body)) throw badBody(`expected a JSON object {name, listen, upstream, enabled}${where}`);
  const name = optionalString(body, 'name');
  if (!name) throw missingField(`name${where}`);
  checkName(name, 'proxy name');
  const upstream = optionalString(body, 'upstream');
  if (!upstream) throw missingField(`upstream${where}`);
  const input: ProxyInput = {
    name,
    listen: optionalString(body, 'listen') || DEFAULT_LISTEN,
    upstream,
    enabled: optionalBool(body, 'enabled') ?? true,
  };
  if (body.toxics !== undefined && body.toxics !== null) {
    if (!allowToxics) throw badBody('"toxics" is only accepted by POST /populate');
    if (!Array.isArray(body.toxics)) throw badBody(`"toxics" must be a list of toxics${where}`);
    const toxics = body.toxics.map((t) => parseToxic(t));
    const seen = new Set<string>();
    for (const t of toxics) {
      if (seen.has(t.name))
        throw new ApiError(409, `toxic already exists: "${t.name}" twice in proxy "${name}"`);
      seen.add(t.name);
    }
    input.toxics = toxics;
  }
  return input;
}

/**
 * The set of proxies (Toxiproxy's ProxyCollection). Changes that bind or close listeners are
 * serialized (one at a time); toxic changes and reads are synchronous and never wait for them.
 */
export class ProxyCollection {
  private readonly proxies = new Map<string, LinkProxy>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly seed: number,
    private readonly log: Logger,
  ) {}

  all(): LinkProxy[] {
    return [...this.proxies.values()];
  }

  get(name: string): LinkProxy {
    const p = this.proxies.get(name);
    if (!p) throw proxyNotFound(name);
    return p;
  }

  /** Run a change after the ones before it. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private make(input: ProxyInput): LinkProxy {
    return new LinkProxy({
      name: input.name,
      listen: input.listen,
      upstream: input.upstream,
      seed: deriveSeed(this.seed, input.name),
      log: this.log,
    });
  }

  create(input: ProxyInput): Promise<LinkProxy> {
    return this.serial(async () => {
      if (this.proxies.has(input.name)) throw proxyExists(input.name);
      const proxy = this.make(input);
      if (input.enabled) await proxy.start();
      this.proxies.set(input.name, proxy);
      return proxy;
    });
  }

  update(name: string, body: unknown): Promise<LinkProxy> {
    return this.serial(async () => {
      const proxy = this.get(name);
      if (!isObject(body)) throw badBody('expected a JSON object {listen, upstream, enabled}');
      await proxy.update({
        listen: optionalString(body, 'listen') || proxy.listen,
        upstream: optionalString(body, 'upstream') || proxy.upstream,
        enabled: optionalBool(body, 'enabled') ?? proxy.enabled,
      });
      return proxy;
    });
  }

  remove(name: string): Promise<void> {
    return this.serial(async () => {
      this.get(name).stop();
      this.proxies.delete(name);
    });
  }

  /** Enable every proxy and remove every toxic. */
  reset(): Promise<void> {
    return this.serial(async () => {
      for (const p of this.proxies.values()) {
        await p.start();
        p.removeAllToxics();
      }
    });
  }

  /**
   * Create or replace a list of proxies (Toxiproxy's populate). A listed proxy whose listen and
   * upstream are unchanged is kept with its live connections; others are (re)created. Proxies not
   * listed stay. The whole body is checked before anything changes; if a listener cannot be bound,
   * this call's changes are undone.
   */
  populate(body: unknown): Promise<LinkProxy[]> {
    if (!Array.isArray(body)) return Promise.reject(badBody('expected a JSON list of proxies'));
    let inputs: ProxyInput[];
    try {
      inputs = body.map((p, i) => parseProxyInput(p, ` at proxy ${i + 1}`, true));
      const names = new Set<string>();
      inputs.forEach((p, i) => {
        if (names.has(p.name))
          throw new ApiError(409, `proxy already exists: "${p.name}" listed twice (at proxy ${i + 1})`);
        names.add(p.name);
      });
      for (const p of inputs) this.make(p); // address checks, before anything changes
    } catch (err) {
      return Promise.reject(err);
    }
    return this.serial(async () => {
      const undo: (() => Promise<void>)[] = [];
      const result: LinkProxy[] = [];
      try {
        for (const input of inputs) {
          const existing = this.proxies.get(input.name);
          const same =
            existing &&
            existing.upstream === input.upstream &&
            (existing.listen === input.listen || input.listen === DEFAULT_LISTEN);
          let proxy: LinkProxy;
          if (existing && same) {
            proxy = existing;
            const wasEnabled = existing.enabled;
            if (input.enabled) await existing.start();
            else existing.stop();
            undo.push(async () => {
              if (wasEnabled) await existing.start();
              else existing.stop();
            });
          } else {
            existing?.stop();
            proxy = this.make(input);
            this.proxies.set(input.name, proxy);
            undo.push(async () => {
              proxy.stop();
              if (existing) {
                this.proxies.set(input.name, existing);
                await existing.start().catch(() => undefined);
              } else this.proxies.delete(input.name);
            });
            if (input.enabled) await proxy.start();
          }
          if (input.toxics) {
            proxy.removeAllToxics();
            for (const t of input.toxics) proxy.addToxic(t);
          }
          result.push(proxy);
        }
      } catch (err) {
        for (const u of undo.reverse()) await u();
        throw err;
      }
      return result;
    });
  }

  /** Stop everything (server shutdown). */
  close(): void {
    for (const p of this.proxies.values()) p.stop();
  }
}
