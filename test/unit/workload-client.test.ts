// The workload client turns every answer, and every failure to get one, into a history entry:
// `fail` for a stated refusal, `info` for an unknown outcome, each with an EZ_ code.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientErrorCode, OrderClient } from '../../harness/workload/client.js';
import { freePort } from '../../src/util/net.js';

/** Answers by path: /orders/<case>/accept. */
const CASES: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  ok: (_req, res) => {
    res.writeHead(200, {
      'content-type': 'application/json',
      'x-ez-zone': 'ez-bj',
      'x-ez-shard': '3',
      'x-ez-epoch': '7',
    });
    res.end(JSON.stringify({ order: { id: '42', state: 'accepted' } }));
  },
  conflict: (_req, res) => {
    res.writeHead(409, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'EZ_CONFLICT', message: 'cannot accept' } }));
  },
  locked: (_req, res) => {
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
    res.end(JSON.stringify({ error: { code: 'EZ_LOCKED', message: 'shard=3' } }));
  },
  unavailable: (_req, res) => {
    res.writeHead(503, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'EZ_ZONE_UNAVAILABLE', message: 'ez-sh' } }));
  },
  bare500: (_req, res) => {
    res.writeHead(500);
    res.end('oops');
  },
  hangup: (req) => req.socket.destroy(),
  silent: () => {}, // never answers: the client's timeout
};

describe('workload client', () => {
  let server: Server;
  let client: OrderClient;
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      CASES[req.url?.split('/')[2] ?? '']?.(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    client = new OrderClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 300);
  });
  afterAll(async () => {
    await client.close().catch(() => undefined);
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const act = (name: string) => client.act('accept', name);

  it('records an acknowledged answer with the eZone, shard, epoch and state', async () => {
    expect(await act('ok')).toMatchObject({
      result: 'ok',
      zone: 'ez-bj',
      shard: 3,
      epoch: 7,
      state: 'accepted',
    });
  });

  it('records a stated refusal as fail with its code', async () => {
    expect(await act('conflict')).toMatchObject({ result: 'fail', status: 409, error: 'EZ_CONFLICT' });
    expect(await act('locked')).toMatchObject({ result: 'fail', status: 503, error: 'EZ_LOCKED' });
  });

  it('records another 5xx, a broken connection and a timeout as info, each with an EZ_ code', async () => {
    expect(await act('unavailable')).toMatchObject({ result: 'info', error: 'EZ_ZONE_UNAVAILABLE' });
    expect(await act('bare500')).toMatchObject({ result: 'info', status: 500, error: 'EZ_HTTP_500' });
    const hangup = await act('hangup');
    expect(hangup).toMatchObject({ result: 'info', error: expect.stringMatching(/^EZ_CLIENT_[A-Z_]+$/) });
    expect(hangup.detail).toBeTruthy();
    expect(await act('silent')).toMatchObject({ result: 'info', error: 'EZ_CLIENT_HEADERS_TIMEOUT' });
  });

  it('records a refused connection as info EZ_CLIENT_ECONNREFUSED, not an exception', async () => {
    const nobody = new OrderClient(`http://127.0.0.1:${await freePort()}`, 300);
    try {
      const op = await nobody.create({ lat: 31.23, lng: 121.47 }, 1);
      expect(op).toMatchObject({ kind: 'create', result: 'info', error: 'EZ_CLIENT_ECONNREFUSED' });
      expect(op.detail).toMatch(/ECONNREFUSED/);
    } finally {
      await nobody.close();
    }
  });

  it('names errors below HTTP uniformly', () => {
    expect(clientErrorCode({ code: 'UND_ERR_SOCKET' })).toBe('EZ_CLIENT_SOCKET');
    expect(clientErrorCode({ code: 'ECONNRESET' })).toBe('EZ_CLIENT_ECONNRESET');
    expect(clientErrorCode({ cause: { code: 'ETIMEDOUT' } })).toBe('EZ_CLIENT_ETIMEDOUT');
    expect(clientErrorCode(new Error('weird'))).toBe('EZ_CLIENT_ERROR');
    expect(clientErrorCode(undefined)).toBe('EZ_CLIENT_ERROR');
  });
});
