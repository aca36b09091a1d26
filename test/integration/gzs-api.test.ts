/**
 * GZS as a real process (`node dist/src/gzs/main.js`, file store): the change API's answers,
 * tokens, malformed input, compare-and-set, durability across a crash, SSE push, clean SIGTERM.
 * Needs the build (`npx tsc -p .`; npm test builds first).
 */
import { readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GzsProcess, startGzsProcess } from '../../src/gzs/testkit.js';
import { tempDir } from '../helpers/run-dir.js';

const TOKEN = 'gzs-api-test-token';
let dir: string;
let gzs: GzsProcess;

async function call(
  method: string,
  path: string,
  opts: { body?: string | object; token?: string | null; headers?: Record<string, string> } = {},
) {
  const token = opts.token === undefined ? TOKEN : opts.token;
  const res = await request(`${gzs.url}${path}`, {
    method: method as 'GET',
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...opts.headers,
    },
    body:
      opts.body === undefined
        ? undefined
        : typeof opts.body === 'string'
          ? opts.body
          : JSON.stringify(opts.body),
  });
  const text = await res.body.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

const epochNow = async (): Promise<number> => (await call('GET', '/table')).json.epoch;

/** A Server-Sent Events subscriber that records the epoch of every table event it receives. */
async function sseEpochs(): Promise<{ seen: number[]; until(epoch: number): Promise<void>; close(): void }> {
  const res = await request(`${gzs.url}/watch`, { headers: { accept: 'text/event-stream' } });
  expect(res.headers['content-type']).toBe('text/event-stream');
  const seen: number[] = [];
  const waiters: { epoch: number; resolve: () => void }[] = [];
  let buf = '';
  res.body.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
      const event = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = /^data: (.*)$/m.exec(event)?.[1];
      if (/^event: table$/m.test(event) && data) seen.push(JSON.parse(data).table.epoch);
    }
    for (const w of waiters) if (seen.includes(w.epoch)) w.resolve();
  });
  return {
    seen,
    until: (epoch) =>
      new Promise<void>((resolve) => {
        if (seen.includes(epoch)) resolve();
        else waiters.push({ epoch, resolve });
      }),
    close: () => res.body.destroy(),
  };
}

beforeAll(async () => {
  dir = tempDir('gzs-api');
  gzs = await startGzsProcess({
    store: `file:${join(dir, 'table.json')}`,
    logFile: join(dir, 'gzs.log'),
    token: TOKEN,
  });
});

afterAll(async () => {
  await gzs?.stop();
});

describe('GZS API (real process)', () => {
  it('serves the epoch-1 table with an ETag, and 304 when unchanged', async () => {
    const r = await call('GET', '/table');
    expect(r.status).toBe(200);
    expect(r.json.epoch).toBe(1);
    expect(r.json.shards['0']).toEqual({ zone: 'ez-bj', state: 'serving' });
    const again = await call('GET', '/table', { headers: { 'if-none-match': String(r.headers.etag) } });
    expect(again.status).toBe(304);
  });

  it('refuses changes without the token, or with a wrong one (401), and changes nothing', async () => {
    const before = await epochNow();
    const none = await call('POST', '/shards/1/lock', { token: null });
    expect(none.status).toBe(401);
    expect(none.json.error.code).toBe('EZ_UNAUTHORIZED');
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    const wrong = await call('PUT', '/zones/ez-bj/state', { token: 'nope', body: { state: 'down' } });
    expect(wrong.status).toBe(401);
    const batch = await call('POST', '/changes', {
      token: null,
      body: { changes: [{ op: 'unlock', shard: 1 }] },
    });
    expect(batch.status).toBe(401);
    expect(await epochNow()).toBe(before);
  });

  it('makes each change durable, bumps the epoch by one and answers with the new table', async () => {
    const e = await epochNow();
    const r = await call('POST', '/shards/3/lock', { body: { reason: 'drill', ifEpoch: e } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      epoch: e + 1,
      changes: [{ op: 'lock', shard: 3, reason: 'drill', from: 'serving' }],
    });
    expect(r.json.table.shards['3']).toEqual({ zone: 'ez-sh', state: 'locked' });
    const batch = await call('POST', '/changes', {
      body: {
        changes: [
          { op: 'owner', shard: 3, zone: 'ez-bj' },
          { op: 'unlock', shard: 3 },
        ],
      },
    });
    expect(batch.json.epoch).toBe(e + 2);
    expect(batch.json.table.shards['3']).toEqual({ zone: 'ez-bj', state: 'serving' });
  });

  it('answers a stale ifEpoch with 409 and the current epoch (compare-and-set)', async () => {
    const e = await epochNow();
    const first = call('PUT', '/zones/ez-sh/state', { body: { state: 'down', ifEpoch: e } });
    const second = call('PUT', '/zones/ez-sh/state', { body: { state: 'active', ifEpoch: e } });
    const results = await Promise.all([first, second]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    const loser = results.find((r) => r.status === 409)!;
    expect(loser.json.error).toMatchObject({ code: 'EZ_STALE_EPOCH', epoch: e + 1 });
    await call('PUT', '/zones/ez-sh/state', { body: { state: 'active' } });
  });

  it('honours If-Match on every change route: 412 with the current epoch when the ETag is not current', async () => {
    const t = await call('GET', '/table');
    const etag = String(t.headers.etag);
    const epoch = t.json.epoch;
    const order = '7290412234567680001';
    const routes: [string, string, object?][] = [
      ['POST', '/shards/2/lock', {}],
      ['POST', '/shards/2/unlock', {}],
      ['PUT', '/shards/2/owner', { zone: 'ez-sh' }],
      ['PUT', '/zones/ez-bj/state', { state: 'down' }],
      ['PUT', `/order-locks/${order}`, { reason: 'x' }],
      ['DELETE', `/order-locks/${order}`, undefined],
      ['POST', '/changes', { changes: [{ op: 'lock', shard: 2 }] }],
    ];
    const stale = etag.replace(/\.(\d+)"$/, (_, e) => `.${Number(e) - 1}"`);
    for (const [method, path, body] of routes) {
      for (const tag of ['"stale.1"', stale, `W/${etag}`, '"x", "y"']) {
        const r = await call(method, path, { body, headers: { 'if-match': tag } });
        expect(r.status, `${method} ${path} If-Match ${tag}`).toBe(412);
        expect(r.json.error, `${method} ${path}`).toMatchObject({ code: 'EZ_PRECONDITION_FAILED', epoch });
        expect(r.json.error.message).toContain(etag);
      }
    }
    expect((await call('GET', '/table')).json).toEqual(t.json); // none of them applied
    // not an entity tag at all: 400 naming it
    const bad = await call('POST', '/shards/2/lock', { headers: { 'if-match': 'stale.1' } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/^If-Match: expected "\*" or entity tags .* got "stale\.1"$/);
    // the current ETag (also within a list) applies, and the answer carries the new one
    const ok = await call('POST', '/shards/2/lock', { headers: { 'if-match': `"other", ${etag}` } });
    expect(ok.status).toBe(200);
    expect(ok.json.epoch).toBe(epoch + 1);
    expect(ok.headers.etag).toBe(`"${t.headers['x-ez-generation']}.${epoch + 1}"`);
    // the ETag it was based on is stale now
    const again = await call('POST', '/shards/2/unlock', { headers: { 'if-match': etag } });
    expect(again.status).toBe(412);
    expect(again.json.error.epoch).toBe(epoch + 1);
    const any = await call('POST', '/shards/2/unlock', { headers: { 'if-match': '*' } });
    expect(any.status).toBe(200);
    const chained = await call('PUT', '/shards/2/owner', {
      body: { zone: 'ez-bj' },
      headers: { 'if-match': String(any.headers.etag) },
    });
    expect(chained.status).toBe(200);
  });

  it('answers malformed bodies and paths with a clear 4xx, and survives all of them', async () => {
    const cases: [
      string,
      string,
      { body?: string | object; token?: null; headers?: Record<string, string> },
      number,
      RegExp,
    ][] = [
      ['POST', '/changes', { body: '{not json' }, 400, /^body: not JSON/],
      ['POST', '/changes', { body: '[1,2]' }, 400, /^body: expected object/],
      ['POST', '/changes', { body: { changes: [] } }, 400, /changes: expected at least one change/],
      [
        'POST',
        '/changes',
        { body: { changes: [{ op: 'explode' }] } },
        400,
        /changes\[0\]\.op: unknown op "explode"/,
      ],
      [
        'POST',
        '/changes',
        { body: { changes: [{ op: 'lock', shard: -1 }] } },
        400,
        /changes\[0\]\.shard: expected a shard id/,
      ],
      [
        'POST',
        '/changes',
        { body: { changes: [{ op: 'lock', shard: 1 }], extra: 1 } },
        400,
        /unknown key "extra"/,
      ],
      ['PUT', '/shards/1/owner', { body: { zone: 'Ez BJ' } }, 400, /^body: zone: bad eZone id "Ez BJ"/],
      ['PUT', '/shards/1/owner', { body: {} }, 400, /^body: zone: required/],
      [
        'PUT',
        '/zones/ez-bj/state',
        { body: { state: 'sideways' } },
        400,
        /state: expected "active" or "down", got "sideways"/,
      ],
      [
        'PUT',
        '/order-locks/12ab',
        { body: { reason: 'x' } },
        400,
        /order id \(in the path\): "12ab" is not a decimal order id/,
      ],
      ['PUT', '/order-locks/7290412234567680001', { body: {} }, 400, /^body: reason: required/],
      ['POST', '/shards/abc/lock', {}, 400, /shard \(in the path\): expected a shard id/],
      ['POST', '/shards/%E0%A4%A/lock', {}, 400, /bad percent-encoding/],
      ['POST', '/shards/999/lock', {}, 404, /shard 999 is not in the routing table/],
      [
        'PUT',
        '/zones/ez-gz/state',
        { body: { state: 'down' } },
        404,
        /eZone "ez-gz" is not in the routing table/,
      ],
      ['DELETE', '/order-locks/7290412234567680001', {}, 404, /order 7290412234567680001 is not locked/],
      ['GET', '/no/such/path', {}, 404, /no such path: \/no\/such\/path/],
      ['GET', '/shards/1/lock', {}, 405, /GET \/shards\/1\/lock: expected POST/],
      ['DELETE', '/table', {}, 405, /expected GET/],
      ['GET', '/history?since=abc', {}, 400, /since: expected a non-negative integer/],
      ['GET', '/owner?shard=2000', {}, 400, /shard: expected a shard id/],
      [
        'POST',
        '/acks',
        { body: { holder: { id: 'a b', kind: 'router' }, epoch: 1 } },
        400,
        /holder\.id: expected 1-128/,
      ],
      [
        'POST',
        '/changes',
        { body: { changes: [{ op: 'lock', shard: 1, reason: 'x'.repeat(2_000_000) }] } },
        413,
        /body larger than/,
      ],
    ];
    const before = await epochNow();
    for (const [method, path, opts, status, message] of cases) {
      const r = await call(method, path, opts);
      expect(r.status, `${method} ${path}`).toBe(status);
      expect(r.json?.error?.message, `${method} ${path}`).toMatch(message);
      expect(r.json.error.code, `${method} ${path}`).toMatch(/^EZ_/);
    }
    expect(cases.length).toBeGreaterThanOrEqual(10);
    // raw garbage on the socket: not even HTTP
    await new Promise<void>((resolve) => {
      const s = connect(gzs.port, '127.0.0.1', () => s.end('\x00\x01GARBAGE / HTTP/9\r\n\r\n'));
      s.on('close', () => resolve());
      s.on('error', () => resolve());
      s.resume();
    });
    expect(await gzs.alive()).toBe(true);
    const health = await call('GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({ ok: true });
    expect(await epochNow()).toBe(before);
  });

  it('refuses shard ids that are not canonical decimals (400 naming the value), in paths and queries', async () => {
    const before = await call('GET', '/table');
    for (const text of ['007', '07', '+7', '7.0', '%207', '7%20', '0x7', '1e1']) {
      const r = await call('POST', `/shards/${text}/lock`, {});
      expect(r.status, text).toBe(400);
      expect(r.json.error.code, text).toBe('EZ_BAD_REQUEST');
      const shown = JSON.stringify(decodeURIComponent(text));
      expect(r.json.error.message, text).toContain(`shard (in the path): expected a shard id`);
      expect(r.json.error.message, text).toContain(`got ${shown}`);
    }
    const owner = await call('PUT', '/shards/007/owner', { body: { zone: 'ez-bj' } });
    expect(owner.status).toBe(400);
    const q = await call('GET', '/owner?shard=007');
    expect(q.status).toBe(400);
    expect(q.json.error.message).toMatch(/^shard: expected a shard id .*got "007"$/);
    expect((await call('GET', '/owner?shard=%2B7')).status).toBe(400);
    const after = await call('GET', '/table');
    expect(after.json).toEqual(before.json); // nothing was locked or moved
    // 0 is canonical
    expect((await call('GET', '/owner?shard=0')).json).toMatchObject({ shard: 0, zone: 'ez-bj' });
    const lock0 = await call('POST', '/shards/0/lock', {});
    expect(lock0.status).toBe(200);
    expect(lock0.json.table.shards['0'].state).toBe('locked');
    expect((await call('POST', '/shards/0/unlock', {})).status).toBe(200);
  });

  it('answers a batch of no-ops with noop: true and the current epoch: not stored, not pushed, not in the history', async () => {
    const order = '7290412234567680002';
    await call('POST', '/shards/4/lock', { body: { reason: 'setup' } });
    await call('PUT', `/order-locks/${order}`, { body: { reason: 'keep' } });
    const t = await call('GET', '/table');
    const e = t.json.epoch;
    const sse = await sseEpochs();
    await sse.until(e);
    const file = join(dir, 'table.json');
    const stored = readFileSync(file, 'utf8');
    const inode = statSync(file).ino; // every write of the file store renames a new file into place
    const history = (await call('GET', '/history')).json;
    const owner4 = t.json.shards['4'].zone;
    const noops: [string, string, object][] = [
      ['PUT', '/shards/4/owner', { zone: owner4 }],
      ['POST', '/shards/4/lock', { reason: 'again' }],
      ['POST', '/shards/6/unlock', {}],
      ['PUT', '/zones/ez-bj/state', { state: 'active' }],
      ['PUT', `/order-locks/${order}`, { reason: 'keep' }],
      [
        'POST',
        '/changes',
        {
          changes: [
            { op: 'owner', shard: 4, zone: owner4 },
            { op: 'zone', zone: 'ez-sh', state: 'active' },
            { op: 'order-lock', orderId: order, reason: 'keep' },
            ...Array.from({ length: 19_997 }, () => ({ op: 'unlock', shard: 6 })),
          ],
        },
      ],
    ];
    for (const [method, path, body] of noops) {
      const r = await call(method, path, { body, headers: { 'if-match': String(t.headers.etag) } });
      expect(r.status, `${method} ${path}`).toBe(200);
      expect(r.json, `${method} ${path}`).toMatchObject({ epoch: e, noop: true, changes: [] });
      expect(r.json.table).toEqual(t.json);
      expect(r.headers['x-ez-epoch']).toBe(String(e));
      expect(r.headers.etag).toBe(t.headers.etag);
      // not written, not even the same bytes again (checked each time: inode numbers get reused)
      expect(readFileSync(file, 'utf8')).toBe(stored);
      expect(statSync(file).ino, `${method} ${path}`).toBe(inode);
    }
    expect((await call('GET', '/history')).json).toEqual(history); // 20,000 no-ops pushed nothing out
    expect((await call('GET', '/table')).json.epoch).toBe(e);
    // mixed: the real changes apply as one epoch; the answer and the history list only them
    const mixed = await call('POST', '/changes', {
      body: {
        changes: [
          { op: 'owner', shard: 4, zone: owner4 },
          { op: 'unlock', shard: 4 },
          { op: 'unlock', shard: 4 },
          { op: 'zone', zone: 'ez-bj', state: 'active' },
        ],
      },
    });
    expect(mixed.json).toMatchObject({
      epoch: e + 1,
      noop: false,
      changes: [{ op: 'unlock', shard: 4, from: 'locked' }],
    });
    const h = (await call('GET', `/history?since=${e}`)).json;
    expect(h.entries.map((x: any) => [x.epoch, x.changes])).toEqual([
      [e + 1, [{ op: 'unlock', shard: 4, from: 'locked' }]],
    ]);
    await sse.until(e + 1);
    sse.close();
    expect(sse.seen).toEqual([e, e + 1]); // no push for the no-ops
    // unlocking an order that is not locked stays a 404 (documented; the CLI exits 2)
    expect((await call('DELETE', `/order-locks/${order}`)).status).toBe(200);
    const again = await call('DELETE', `/order-locks/${order}`);
    expect([again.status, again.json.error.code]).toEqual([404, 'EZ_NO_ORDER_LOCK']);
  });

  it('pushes every new epoch to a Server-Sent Events subscriber', async () => {
    const res = await request(`${gzs.url}/watch`, { headers: { accept: 'text/event-stream' } });
    expect(res.headers['content-type']).toBe('text/event-stream');
    const seen: number[] = [];
    let buf = '';
    const want = (await epochNow()) + 1;
    const got = new Promise<void>((resolve, reject) => {
      res.body.on('data', (chunk: Buffer) => {
        buf += chunk.toString();
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const event = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = /^data: (.*)$/m.exec(event)?.[1];
          if (/^event: table$/m.test(event) && data) {
            seen.push(JSON.parse(data).table.epoch);
            if (seen.at(-1) === want) resolve();
          }
        }
      });
      res.body.on('error', reject);
    });
    await new Promise((r) => setTimeout(r, 100)); // the first event (current table) arrives
    const change = await call('POST', '/shards/7/lock', {});
    expect(change.json.epoch).toBe(want);
    await got;
    res.body.destroy();
    expect(seen).toEqual([want - 1, want]);
    await call('POST', '/shards/7/unlock', {});
  });

  it('keeps the history with actors, answers who owned a shard when, and exports metrics', async () => {
    const e = await epochNow();
    await call('PUT', '/shards/5/owner', { body: { zone: 'ez-bj' }, headers: { 'x-ez-actor': 'test-op' } });
    const h = await call('GET', `/history?since=${e}`);
    expect(h.json.entries).toEqual([
      {
        epoch: e + 1,
        at: expect.any(Number),
        actor: 'test-op',
        changes: [{ op: 'owner', shard: 5, zone: 'ez-bj', from: 'ez-sh' }],
      },
    ]);
    const at = h.json.entries[0].at;
    expect((await call('GET', `/owner?shard=5&at=${at - 1}`)).json).toMatchObject({
      zone: 'ez-sh',
      epoch: e,
      exact: true,
    });
    expect((await call('GET', `/owner?shard=5&at=${at}`)).json).toMatchObject({
      zone: 'ez-bj',
      epoch: e + 1,
    });
    const m = await call('GET', '/metrics');
    expect(m.text).toMatch(new RegExp(`^ez_gzs_epoch\\{part="gzs"\\} ${e + 1}$`, 'm'));
    expect(m.text).toMatch(/ez_gzs_requests_total\{route="shard-owner",status="200",part="gzs"\} \d+/);
  });

  it('keeps every acknowledged change across a crash (SIGKILL) and refuses a second GZS on the same file', async () => {
    const r = await call('PUT', '/order-locks/7290412234567680001', { body: { reason: 'before the crash' } });
    expect(r.status).toBe(200);
    await gzs.kill();
    await gzs.restart(); // takes over the lock of the dead process
    await expect(
      startGzsProcess({
        store: `file:${join(dir, 'table.json')}`,
        logFile: join(dir, 'gzs-2.log'),
        token: TOKEN,
      }),
    ).rejects.toThrow(/in use by another GZS \(pid \d+/);
    const t = await call('GET', '/table');
    expect(t.json.epoch).toBe(r.json.epoch);
    expect(t.json.orderLocks['7290412234567680001']).toMatchObject({ reason: 'before the crash' });
  });

  it('stops cleanly on SIGTERM', async () => {
    await gzs.stop();
    expect(await gzs.alive()).toBe(false);
    const { readFileSync } = await import('node:fs');
    const lines = readFileSync(gzs.logFile, 'utf8').trim().split('\n');
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ msg: 'stopped' });
    await gzs.restart(); // for afterAll
  });
});
