/**
 * Garbage bodies, unknown toxic types, negative or absurd attributes, odd names: every answer is a
 * clear 4xx with a JSON error, nothing 5xx, and the server still answers /version afterwards.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type LinkServer, startLinkServer } from '../../src/links/server.js';

process.env.EZ_LOG_LEVEL ??= 'fatal';

let server: LinkServer;
beforeAll(async () => {
  server = await startLinkServer({ port: 0, seed: 2 });
  const r = await fetch(`${server.url}/proxies`, {
    method: 'POST',
    body: JSON.stringify({ name: 'p', listen: '127.0.0.1:0', upstream: '127.0.0.1:9' }),
  });
  expect(r.status).toBe(201);
  const t = await fetch(`${server.url}/proxies/p/toxics`, {
    method: 'POST',
    body: JSON.stringify({ name: 'lat', type: 'latency', attributes: { latency: 1 } }),
  });
  expect(t.status).toBe(200);
});
afterAll(async () => {
  await server?.close();
});

async function send(method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${server.url}${path}`, { method, body });
  return { status: res.status, text: await res.text() };
}

/** A 4xx with Toxiproxy's error shape, or a success; never a 5xx. */
function checkAnswer(r: { status: number; text: string }): boolean {
  if (r.status >= 500) return false;
  if (r.status >= 400) {
    const j = JSON.parse(r.text) as { error: string; status: number };
    return typeof j.error === 'string' && j.error.length > 0 && j.status === r.status;
  }
  return true;
}

const junkJson = fc.oneof(
  fc.string(),
  fc.json(),
  fc.constantFrom('{', '[', 'null', '""', '{"name":', '\u0000', '{"a":1}}', '[[[[', '1e999'),
);
const absurd = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(-1, 1e20, Number.MAX_SAFE_INTEGER + 2, 0.5, '15', true, null, [], {}),
);
const toxicBody = fc.record(
  {
    name: fc.oneof(fc.string(), fc.constantFrom('a/b', '..', ' ', '%2F', 'ü', 'x'.repeat(300))),
    type: fc.oneof(
      fc.constantFrom(
        'latency',
        'bandwidth',
        'slicer',
        'timeout',
        'limit_data',
        'stall',
        'nope',
        '',
        'LATENCY',
      ),
      fc.string(),
    ),
    stream: fc.oneof(fc.constantFrom('upstream', 'downstream', 'both', 'sideways', ''), fc.string()),
    toxicity: absurd,
    attributes: fc.dictionary(
      fc.constantFrom(
        'latency',
        'jitter',
        'rate',
        'average_size',
        'size_variation',
        'delay',
        'timeout',
        'bytes',
        'bogus',
      ),
      absurd,
    ),
  },
  { requiredKeys: [] },
);
const proxyBody = fc.record(
  {
    name: fc.oneof(fc.string(), fc.constantFrom('ok-name', 'a b', 'x'.repeat(200), '../x', 'q')),
    listen: fc.oneof(
      fc.string(),
      fc.constantFrom('127.0.0.1:0', '127.0.0.1:99999', ':-1', '[::1]:0', 'host', '8.8.8.8:0'),
    ),
    upstream: fc.oneof(fc.string(), fc.constantFrom('127.0.0.1:9', 'nohost', '127.0.0.1:0', '[::1]:9')),
    enabled: fc.oneof(fc.boolean(), fc.string(), fc.integer()),
  },
  { requiredKeys: [] },
);

it('garbage bodies on every write endpoint: clear 4xx (or success), never 5xx', async () => {
  const paths = ['/proxies', '/populate', '/proxies/p', '/proxies/p/toxics', '/proxies/p/toxics/lat'];
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...paths),
      fc.constantFrom('POST', 'PATCH'),
      junkJson,
      async (path, method, body) => {
        const r = await send(method, path, body);
        return checkAnswer(r);
      },
    ),
    { numRuns: 300, seed: 42 },
  );
});

it('toxics with unknown types, odd names and absurd attributes: 4xx unless valid', async () => {
  await fc.assert(
    fc.asyncProperty(toxicBody, async (body) => {
      const r = await send('POST', '/proxies/p/toxics', JSON.stringify(body));
      if (!checkAnswer(r)) return false;
      if (r.status === 200) {
        const name = (JSON.parse(r.text) as { name: string }).name;
        const d = await send('DELETE', `/proxies/p/toxics/${encodeURIComponent(name)}`);
        if (d.status !== 204) return false;
      }
      const u = await send(
        'PATCH',
        '/proxies/p/toxics/lat',
        JSON.stringify({ attributes: body.attributes, toxicity: body.toxicity }),
      );
      return checkAnswer(u);
    }),
    { numRuns: 300, seed: 7 },
  );
});

it('proxies with odd names and addresses: 4xx unless valid', async () => {
  await fc.assert(
    fc.asyncProperty(proxyBody, async (body) => {
      const r = await send('POST', '/proxies', JSON.stringify(body));
      if (!checkAnswer(r)) return false;
      if (r.status === 201) {
        const name = (JSON.parse(r.text) as { name: string }).name;
        if ((await send('DELETE', `/proxies/${encodeURIComponent(name)}`)).status !== 204) return false;
      }
      const pop = await send('POST', '/populate', JSON.stringify([body]));
      if (!checkAnswer(pop)) return false;
      if (pop.status === 201 && typeof body.name === 'string' && body.name !== 'p-never')
        await send('DELETE', `/proxies/${encodeURIComponent(body.name)}`);
      return true;
    }),
    { numRuns: 200, seed: 9 },
  );
});

it('odd path segments and methods: 4xx', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(fc.string(), fc.constantFrom('%', '%zz', '..', '%2F', 'p/toxics/%E0%A4%A', '\u00ff')),
      fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
      async (seg, method) => {
        const path = `/proxies/${seg.replace(/[?#]/g, '')}/toxics/${encodeURIComponent(seg)}`;
        try {
          return checkAnswer(
            await send(method, path, method === 'GET' || method === 'DELETE' ? undefined : '{}'),
          );
        } catch (err) {
          return /Invalid URL|invalid/i.test(String(err)); // the client refused to send it
        }
      },
    ),
    { numRuns: 200, seed: 3 },
  );
  expect((await send('GET', '/nope')).status).toBe(404);
  expect((await send('PUT', '/proxies')).status).toBe(405);
});

it('still answers /version, and the proxy set is intact', async () => {
  const v = await send('GET', '/version');
  expect(v.status).toBe(200);
  expect(JSON.parse(v.text)).toMatchObject({ version: '2.12.0' });
  const p = await send('GET', '/proxies/p');
  expect(JSON.parse(p.text)).toMatchObject({ name: 'p', toxics: [{ name: 'lat' }] });
});
