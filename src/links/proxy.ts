// One proxy of the link server: a listener, its upstream, its toxics and live connections.
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import type { Logger } from '../util/log.js';
import { deriveSeed, type Random, seededRandom } from '../util/random.js';
import {
  ApiError,
  type HostPort,
  joinHostPort,
  parseHostPort,
  toxicExists,
  toxicNotFound,
} from './errors.js';
import { type ByteCounters, Link } from './link.js';
import { latencyDelay } from './stage.js';
import { appliesTo, type Direction, type ToxicSpec, toxicJson } from './toxic.js';

/** One client connection through a proxy: the client socket, the upstream socket, a link each way. */
class Connection {
  upstream: Socket | null = null;
  up: Link | null = null;
  down: Link | null = null;
  state: 'connecting' | 'open' = 'connecting';
  readonly since = new Date();
  /** per toxic: did this connection draw it active (toxicity)? Drawn once, re-drawn on update. */
  readonly active = new Map<string, boolean>();
  /** set while set-up waits for a stall to end */
  resume: (() => void) | null = null;
  timer: NodeJS.Timeout | null = null;
  closed = false;
  private readonly draw: Random;

  constructor(
    readonly id: number,
    readonly client: Socket,
    readonly seed: number,
  ) {
    this.draw = seededRandom(deriveSeed(seed, 'toxicity'));
  }

  /** Whether this connection is affected by `spec`, drawing once per toxic (toxicity is per connection). */
  isActive(spec: ToxicSpec): boolean {
    let a = this.active.get(spec.name);
    if (a === undefined) {
      a = this.draw() < spec.toxicity;
      this.active.set(spec.name, a);
    }
    return a;
  }

  redraw(spec: ToxicSpec): { was: boolean; now: boolean } {
    const was = this.isActive(spec);
    this.active.delete(spec.name);
    return { was, now: this.isActive(spec) };
  }

  random(dir: Direction): Random {
    return seededRandom(deriveSeed(this.seed, dir));
  }

  /** `reset`: RST both ways; `end`: FIN after what is already written; `destroy`: close now. */
  close(how: 'reset' | 'end' | 'destroy'): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.resume = null;
    this.up?.dispose();
    this.down?.dispose();
    for (const s of [this.client, this.upstream]) {
      if (!s || s.destroyed) continue;
      if (how === 'reset') s.resetAndDestroy();
      else if (how === 'end' && this.state === 'open') s.destroySoon();
      else s.destroy();
    }
  }

  json() {
    const dir = (l: Link | null) => ({ received: l?.received ?? 0, sent: l?.sent ?? 0, held: l?.held ?? 0 });
    return {
      id: this.id,
      client: joinHostPort(this.client.remoteAddress ?? '?', this.client.remotePort ?? 0),
      state: this.state,
      since: this.since.toISOString(),
      bytes: { upstream: dir(this.up), downstream: dir(this.down) },
      toxics: [...this.active.entries()].filter(([, a]) => a).map(([name]) => name),
    };
  }
}

export interface ProxyOptions {
  name: string;
  listen: string;
  upstream: string;
  seed: number;
  log: Logger;
}

/**
 * A TCP proxy with its toxics (Toxiproxy's Proxy): listens on `listen`, dials `upstream` for every
 * client, and runs a Link each way. `enabled:false` closes the listener and every live connection.
 */
export class LinkProxy {
  readonly name: string;
  listen: string;
  upstream: string;
  enabled = false;
  readonly toxics: ToxicSpec[] = [];
  readonly counters: Record<Direction, ByteCounters> = {
    upstream: { received: 0, sent: 0 },
    downstream: { received: 0, sent: 0 },
  };
  private listenAddr: HostPort;
  private upstreamAddr: HostPort;
  private server: Server | null = null;
  private readonly connections = new Map<number, Connection>();
  private seq = 0;
  private readonly seed: number;
  private readonly log: Logger;

  constructor(opts: ProxyOptions) {
    this.name = opts.name;
    this.listenAddr = parseHostPort(opts.listen, 'listen', 0);
    this.upstreamAddr = parseHostPort(opts.upstream, 'upstream', 1);
    this.listen = opts.listen;
    this.upstream = opts.upstream;
    this.seed = opts.seed;
    this.log = opts.log.child({ proxy: opts.name });
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  json() {
    return {
      name: this.name,
      listen: this.listen,
      upstream: this.upstream,
      enabled: this.enabled,
      toxics: this.toxics.map(toxicJson),
    };
  }

  connectionsJson() {
    return [...this.connections.values()].map((c) => c.json());
  }

  /** Listen; `listen` becomes the bound address (port 0 resolved), as Toxiproxy reports it. */
  async start(): Promise<void> {
    if (this.enabled) return;
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (s) => this.accept(s));
    const { host, port } = this.listenAddr;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: host || undefined, port }, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: NodeJS.ErrnoException) => {
      const where = joinHostPort(host, port);
      if (err.code === 'EADDRINUSE')
        throw new ApiError(409, `cannot listen on ${where}: address already in use`);
      if (
        err.code === 'EADDRNOTAVAIL' ||
        err.code === 'ENOTFOUND' ||
        err.code === 'EACCES' ||
        err.code === 'EAI_AGAIN'
      )
        throw new ApiError(400, `cannot listen on ${where}: ${err.code} (expected a local address)`);
      throw new ApiError(500, `cannot listen on ${where}: ${err.message}`);
    });
    server.on('error', (err) => this.log.error({ err }, 'listener error'));
    const addr = server.address();
    if (addr && typeof addr === 'object') {
      // like Toxiproxy (proxy.Listen = ln.Addr()): a proxy asked for port 0 keeps the port it got,
      // so disabling and enabling it (a `refuse` partition and its heal) does not move it
      this.listen = joinHostPort(addr.address, addr.port);
      this.listenAddr = { host, port: addr.port };
    }
    this.server = server;
    this.enabled = true;
    this.log.info({ listen: this.listen, upstream: this.upstream }, 'proxy started');
  }

  /** Close the listener (new connects are refused at once) and every live connection. */
  stop(): void {
    if (!this.enabled) return;
    this.enabled = false;
    this.server?.close();
    this.server = null;
    for (const c of this.connections.values()) c.close('destroy');
    this.connections.clear();
    this.log.info('proxy stopped');
  }

  /** Toxiproxy's update: a new listen or upstream restarts the proxy (live connections close). */
  async update(input: { listen: string; upstream: string; enabled: boolean }): Promise<void> {
    if (input.listen !== this.listen || input.upstream !== this.upstream) {
      const listenAddr = parseHostPort(input.listen, 'listen', 0);
      const upstreamAddr = parseHostPort(input.upstream, 'upstream', 1);
      this.stop();
      this.listenAddr = listenAddr;
      this.upstreamAddr = upstreamAddr;
      this.listen = input.listen;
      this.upstream = input.upstream;
    }
    if (input.enabled) await this.start();
    else this.stop();
  }

  // ---- toxics ----

  getToxic(name: string): ToxicSpec {
    const t = this.toxics.find((x) => x.name === name);
    if (!t) throw toxicNotFound(name);
    return t;
  }

  addToxic(spec: ToxicSpec): void {
    if (this.toxics.some((x) => x.name === spec.name)) throw toxicExists(spec.name);
    this.toxics.push(spec);
    for (const c of this.connections.values()) {
      const active = c.isActive(spec);
      if (c.up && appliesTo(spec, 'upstream')) c.up.addToxic(spec, active);
      if (c.down && appliesTo(spec, 'downstream')) c.down.addToxic(spec, active);
    }
    this.log.info({ toxic: toxicJson(spec) }, 'toxic added');
  }

  replaceToxic(spec: ToxicSpec): void {
    const i = this.toxics.findIndex((x) => x.name === spec.name);
    if (i < 0) throw toxicNotFound(spec.name);
    this.toxics[i] = spec;
    for (const c of this.connections.values()) {
      const { was, now } = c.redraw(spec);
      if (c.up && appliesTo(spec, 'upstream')) c.up.updateToxic(spec, now, was);
      if (c.down && appliesTo(spec, 'downstream')) c.down.updateToxic(spec, now, was);
    }
    this.log.info({ toxic: toxicJson(spec) }, 'toxic updated');
    if (spec.type === 'stall') this.releaseWaiting();
  }

  removeToxic(name: string): void {
    const i = this.toxics.findIndex((x) => x.name === name);
    if (i < 0) throw toxicNotFound(name);
    const [spec] = this.toxics.splice(i, 1);
    for (const c of this.connections.values()) {
      c.up?.removeToxic(name);
      c.down?.removeToxic(name);
      c.active.delete(name);
    }
    this.log.info({ toxic: name }, 'toxic removed');
    if (spec.type === 'stall') this.releaseWaiting();
  }

  removeAllToxics(): void {
    for (const t of [...this.toxics]) this.removeToxic(t.name);
  }

  // ---- connections ----

  /** Is this connection's set-up held by a stall (a partition stops handshakes too)? */
  private stalledFor(c: Connection): boolean {
    return this.toxics.some((t) => t.type === 'stall' && c.isActive(t));
  }

  private releaseWaiting(): void {
    for (const c of this.connections.values()) {
      if (c.resume && !this.stalledFor(c)) {
        const go = c.resume;
        c.resume = null;
        go();
      }
    }
  }

  /** Sum of the handshake latencies (latency toxics with `handshake: true`) this connection drew for `dir`. */
  private handshakeDelay(c: Connection, dir: Direction, random: Random): number {
    let ms = 0;
    for (const t of this.toxics) {
      if (t.type === 'latency' && t.attributes.handshake === true && appliesTo(t, dir) && c.isActive(t))
        ms += latencyDelay(t, random);
    }
    return ms;
  }

  /**
   * Connection set-up. The client's TCP handshake with the proxy completes in the kernel; what we
   * delay is the rest of the path: the upstream is dialled only after the upstream handshake delay
   * (the SYN crossing the link), and nothing flows either way until the downstream handshake delay
   * has passed after the upstream accepted (the SYN-ACK crossing back). So the first exchange on a
   * new connection costs one extra round trip, as on a real link. A stall holds set-up at either step.
   */
  private accept(client: Socket): void {
    const id = ++this.seq;
    const c = new Connection(id, client, deriveSeed(this.seed, this.name, id));
    this.connections.set(id, c);
    client.setNoDelay(true);
    client.on('error', (err) => {
      this.log.debug({ conn: id, err: err.message }, 'client socket error');
      c.close('destroy');
    });
    client.on('close', () => this.settle(c));
    const random = c.random('upstream');
    const after = (ms: number, then: () => void): void => {
      if (c.closed) return;
      if (ms <= 0) then();
      else c.timer = setTimeout(then, ms);
    };
    const unstalled = (then: () => void): void => {
      if (c.closed) return;
      if (this.stalledFor(c)) c.resume = then;
      else then();
    };
    after(this.handshakeDelay(c, 'upstream', random), () =>
      unstalled(() => {
        const upstream = netConnect({
          host: this.upstreamAddr.host,
          port: this.upstreamAddr.port,
          allowHalfOpen: true,
        });
        c.upstream = upstream;
        upstream.setNoDelay(true);
        upstream.on('error', (err) => {
          if (c.state === 'connecting')
            this.log.warn(
              { conn: id, upstream: this.upstream, err: err.message },
              'cannot connect to upstream',
            );
          else this.log.debug({ conn: id, err: err.message }, 'upstream socket error');
          c.close('destroy');
        });
        upstream.on('close', () => this.settle(c));
        upstream.once('connect', () =>
          after(this.handshakeDelay(c, 'downstream', c.random('downstream')), () =>
            unstalled(() => this.open(c, upstream)),
          ),
        );
      }),
    );
  }

  private open(c: Connection, upstream: Socket): void {
    if (c.closed) return;
    c.state = 'open';
    const onClose = (reset: boolean) => c.close(reset ? 'reset' : 'end');
    c.up = new Link('upstream', c.client, upstream, this.counters.upstream, c.random('upstream'), onClose);
    c.down = new Link(
      'downstream',
      upstream,
      c.client,
      this.counters.downstream,
      c.random('downstream'),
      onClose,
    );
    for (const t of this.toxics) {
      const active = c.isActive(t);
      if (appliesTo(t, 'upstream')) c.up.addToxic(t, active);
      if (appliesTo(t, 'downstream')) c.down.addToxic(t, active);
    }
    c.up.start();
    c.down.start();
    this.log.debug(
      { conn: c.id, client: c.client.remoteAddress, port: c.client.remotePort },
      'connection open',
    );
  }

  /** Forget a connection once both of its sockets are closed; a set-up that loses a socket is dropped. */
  private settle(c: Connection): void {
    if (c.state === 'connecting') {
      if (c.client.destroyed || c.upstream?.destroyed) {
        c.close('destroy');
        this.connections.delete(c.id);
      }
      return;
    }
    if (c.client.destroyed && c.upstream?.destroyed) {
      c.close('destroy');
      this.connections.delete(c.id);
    }
  }
}
