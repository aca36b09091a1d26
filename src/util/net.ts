// Free ports for tests, benches and drills, drawn below the kernel's ephemeral range.
import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

/**
 * A port handed out is only written into a topology; nothing listens on it until its part starts,
 * and meanwhile another test (another vitest worker, another process) would find it free and take
 * it for a MariaDB (seen in CI: "mysql of ez-sh collides with orders of ez-bj", a SOA proxy's
 * EADDRINUSE). So every port handed out is reserved: a file per port under one directory, created
 * exclusively, holding the reserving pid. A reservation lapses when its process is gone or after
 * RESERVATION_MS (a worker process that runs many test files must not hoard the range).
 */
const RESERVATIONS = join(tmpdir(), 'ezctl-ports');
const RESERVATION_MS = 15 * 60_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Claim `port` for this process; false when a live reservation (ours or another's) holds it. */
function reserve(port: number): boolean {
  const file = join(RESERVATIONS, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        mkdirSync(RESERVATIONS, { recursive: true });
        continue;
      }
      if (code !== 'EEXIST') return true; // no place to reserve (read-only tmp): the bind check alone
      try {
        const pid = Number(readFileSync(file, 'utf8'));
        const fresh = Date.now() - statSync(file).mtimeMs < RESERVATION_MS;
        if (fresh && Number.isInteger(pid) && pid > 0 && alive(pid)) return false;
        unlinkSync(file); // lapsed: take it over
      } catch {
        // raced with its owner or another taker: try once more
      }
    }
  }
  return false;
}

function release(port: number): void {
  try {
    unlinkSync(join(RESERVATIONS, String(port)));
  } catch {
    // never made, or lapsed and taken over
  }
}

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
    if (!srv || !reserve(p)) {
      if (srv) held.push(srv);
      for (let q = start; q < p; q++) release(q);
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
