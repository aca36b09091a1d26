// Free ports for tests, benches and drills, drawn below the kernel's ephemeral range.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';

/**
 * Free ports for tests, benches and drills are drawn below the kernel's ephemeral range
 * (net.ipv4.ip_local_port_range, 32768–60999 by default). A port the kernel picks for `listen(0)`
 * comes from that range, and so does the local port of every outgoing connection (a MariaDB
 * client, a replicator's binlog stream): between the pick and the part's own bind, such a
 * connection can take it (seen: a replicator's `EADDRINUSE` in CI). Below the range only another
 * listener can, and the bind check sees those.
 */
const LOWEST = 20_000;

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32_768;
  } catch {
    return 32_768; // not Linux: the IANA range starts at 49152, so this stays below it
  }
}

const HIGHEST = ephemeralLow(); // exclusive

function listenOn(port: number): Promise<Server | null> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(null));
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });
}

const closeAll = (servers: Server[]) => Promise.all(servers.map((s) => new Promise((r) => s.close(r))));

/** Bind `len` consecutive ports from `start` (all or none): the servers holding them, or null. */
async function holdRun(start: number, len: number): Promise<Server[] | null> {
  const held: Server[] = [];
  for (let p = start; p < start + len; p++) {
    const srv = await listenOn(p);
    if (!srv) {
      await closeAll(held);
      return null;
    }
    held.push(srv);
  }
  return held;
}

/**
 * `n` runs of `len` consecutive free ports: the first port of each. All are held open until every
 * one is picked, so they differ. Where the ephemeral range leaves too little room below it, the
 * kernel picks (`len` must then be 1).
 */
async function freeRuns(n: number, len: number): Promise<number[]> {
  const held: Server[] = [];
  const starts: number[] = [];
  try {
    if (HIGHEST - LOWEST < 1000) {
      if (len !== 1)
        throw new Error(`no room below the ephemeral port range (${HIGHEST}) for ${len} consecutive ports`);
      for (let i = 0; i < n; i++) {
        const srv = (await listenOn(0))!;
        held.push(srv);
        starts.push((srv.address() as { port: number }).port);
      }
      return starts;
    }
    for (let tries = 0; starts.length < n; tries++) {
      if (tries > 1000) throw new Error(`no ${n} free runs of ${len} ports in ${LOWEST}–${HIGHEST - 1}`);
      const start = LOWEST + Math.floor(Math.random() * (HIGHEST - LOWEST - len));
      const run = await holdRun(start, len);
      if (run) {
        held.push(...run);
        starts.push(start);
      }
    }
    return starts;
  } finally {
    await closeAll(held);
  }
}

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return freeRuns(1, 1).then(([p]) => p);
}

/** `n` distinct free ports. */
export function freePorts(n: number): Promise<number[]> {
  return freeRuns(n, 1);
}

/** The first of `len` consecutive free ports (a part that listens on port+k, like DRC's replicators). */
export function freePortRun(len: number): Promise<number> {
  return freeRuns(1, len).then(([p]) => p);
}
