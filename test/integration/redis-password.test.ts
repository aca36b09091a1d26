/**
 * The cache invalidator logs in to a Redis that requires a password with EZ_REDIS_PASSWORD (its
 * default; the order service and the drill's cache sampler pass the same), and without it fails
 * at Redis (NOAUTH). A real redis-server with --requirepass; no MariaDB (the session fails after Redis, at
 * the binlog: that is where the two cases part).
 */
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Invalidator } from '../../src/cache/invalidator.js';
import { loadTopology } from '../../src/topology/index.js';
import { freePort } from '../../src/util/net.js';

const password = randomBytes(24).toString('base64url');
let port: number;
let server: ReturnType<typeof execa>;

beforeAll(async () => {
  port = await freePort();
  server = execa(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--requirepass',
      password,
      '--save',
      '',
      '--appendonly',
      'no',
    ],
    { reject: false },
  );
  // ready once an authenticated PING answers
  for (let i = 0; ; i++) {
    const probe = new Redis({ port, password, lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      expect(await probe.ping()).toBe('PONG');
      break;
    } catch (err) {
      if (i > 200) throw err;
      await new Promise((r) => setTimeout(r, 25));
    } finally {
      probe.disconnect();
    }
  }
});

afterAll(async () => {
  server?.kill('SIGTERM');
  await server;
});

/** The invalidator's first failure, against a MariaDB port nothing listens on. */
async function firstFailure(env: string | undefined): Promise<string> {
  const saved = process.env.EZ_REDIS_PASSWORD;
  if (env === undefined) delete process.env.EZ_REDIS_PASSWORD;
  else process.env.EZ_REDIS_PASSWORD = env;
  const inv = new Invalidator({
    topology: loadTopology(),
    zone: 'ez-bj',
    mysql: { host: '127.0.0.1', port: await freePort() },
    redis: { host: '127.0.0.1', port },
    log: pino({ level: 'silent' }),
  });
  try {
    inv.start();
    for (let i = 0; i < 200; i++) {
      const h = (await inv.health()) as unknown as { lastError: { message: string } | null };
      if (h.lastError) return h.lastError.message;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('the invalidator never failed');
  } finally {
    await inv.stop();
    if (saved === undefined) delete process.env.EZ_REDIS_PASSWORD;
    else process.env.EZ_REDIS_PASSWORD = saved;
  }
}

describe('Redis password', () => {
  it('without EZ_REDIS_PASSWORD the invalidator fails at Redis (as before: no password sent)', async () => {
    // ioredis's ready check meets NOAUTH and closes the connection
    const message = await firstFailure(undefined);
    expect(message).toMatch(/NOAUTH|Connection is closed/);
    expect(message).not.toMatch(/ECONNREFUSED/);
  });

  it('with EZ_REDIS_PASSWORD it gets past Redis (fails at the binlog, not at Redis)', async () => {
    const message = await firstFailure(password);
    expect(message).not.toMatch(/NOAUTH|WRONGPASS|AUTH/);
    expect(message).toMatch(/ECONNREFUSED/);
  });
});
