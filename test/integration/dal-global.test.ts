/**
 * The Global Zone through the DALs (DESIGN §5), on `ezctl up` with links (30 ms between eZones):
 * a Global-Zone write from the non-master eZone runs in the master and read-your-writes returns it
 * locally; the same phone registered in both eZones at once gives exactly one user, everywhere,
 * after DRC drains; with the master unreachable the write is EZ_GLOBAL_UNAVAILABLE.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directions } from '../../src/drc/index.js';
import { LinkSet } from '../../src/links/index.js';
import { linkName } from '../../src/topology/index.js';
import { type DalCluster, startDalCluster } from '../helpers/dal.js';
import { drainDirections, ensureBuilt } from '../helpers/drc.js';

let cluster: DalCluster;

beforeAll(async () => {
  await ensureBuilt();
  cluster = await startDalCluster(); // on links
}, 120_000);

afterAll(async () => {
  await cluster?.close();
});

const register = (zone: string, phone: string, name = 'Li') =>
  fetch(`${cluster.ordersUrl(zone)}/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ phone, name }),
  }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, any> }));

const drain = () =>
  drainDirections(
    directions(cluster.topology).map((d) => [d.from, d.to] as [string, string]),
    (z) => cluster.rootOptions(z),
    (z) => cluster.serverId(z),
  );

describe('Global Zone through the DALs', () => {
  it('a write from the non-master eZone lands in the master; read-your-writes returns it locally', async () => {
    expect(cluster.topology.globalMaster).toBe('ez-bj');
    const sh = await cluster.connect('ez-sh');
    const at = Date.now();
    await sh.execute('INSERT INTO users (id, phone, name, version, updated_at) VALUES (?, ?, ?, 1, NOW(6))', [
      'u-ryw-1',
      '+8613800000001',
      'Wang',
    ]);
    const [seen] = await sh.query(
      "/*ez:read-your-writes*/ SELECT id, phone, name FROM users WHERE id = 'u-ryw-1'",
    );
    const waited = Date.now() - at;
    expect(seen).toEqual([{ id: 'u-ryw-1', phone: '+8613800000001', name: 'Wang' }]);
    // in the master's MariaDB (it ran there) and in ez-sh's own copy (DRC brought it back)
    const [master] = await (await cluster.root('ez-bj')).query("SELECT name FROM users WHERE id = 'u-ryw-1'");
    expect(master).toEqual([{ name: 'Wang' }]);
    const [local] = await (await cluster.root('ez-sh')).query("SELECT name FROM users WHERE id = 'u-ryw-1'");
    expect(local).toEqual([{ name: 'Wang' }]);
    // the write went out over the 30 ms link and came back through DRC: no faster than one round trip
    expect(waited).toBeGreaterThanOrEqual(29);
    const metrics = await (await fetch(`http://127.0.0.1:${cluster.opsPort('ez-sh')}/metrics`)).text();
    expect(metrics).toMatch(/ezdal_read_your_writes_wait_seconds_count\{[^}]*outcome="applied"[^}]*\} [1-9]/);
  });

  it('the order service registers users as Global-Zone writes; the same phone in both eZones at once → one user', async () => {
    for (let round = 0; round < 5; round++) {
      const phone = `+86139${String(round).padStart(8, '0')}`;
      const [a, b] = await Promise.all([register('ez-bj', phone, 'bj'), register('ez-sh', phone, 'sh')]);
      const statuses = [a.status, b.status].sort();
      expect(statuses, JSON.stringify([a.body, b.body])).toEqual([201, 409]);
      const won = a.status === 201 ? a : b;
      expect(won.body.user.phone).toBe(phone);
      const lost = a.status === 201 ? b : a;
      expect(lost.body.error.code).toBe('EZ_CONFLICT');
    }
    await drain();
    for (const z of ['ez-bj', 'ez-sh']) {
      const [rows] = await (await cluster.root(z)).query(
        "SELECT phone, COUNT(*) AS n FROM users WHERE phone LIKE '+86139%' GROUP BY phone ORDER BY phone",
      );
      expect(rows, z).toEqual(
        Array.from({ length: 5 }, (_, i) => ({ phone: `+86139${String(i).padStart(8, '0')}`, n: '1' })),
      );
    }
  });

  it('a registration read back at once in the non-master eZone (read-your-writes in the service)', async () => {
    const r = await register('ez-sh', '+8613700000009', 'Zhao');
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const got = await fetch(`${cluster.ordersUrl('ez-sh')}/users/${r.body.user.id}`);
    expect(got.status).toBe(200);
    expect(((await got.json()) as { user: { name: string } }).user.name).toBe('Zhao');
  });

  it('master unreachable (its link cut): EZ_GLOBAL_UNAVAILABLE, and local writes go on', async () => {
    const links = await LinkSet.attach({
      toxiproxy: `http://127.0.0.1:${cluster.topology.deployment.links!.port}`,
      topology: cluster.topology,
    });
    const name = linkName('ez-sh', 'ez-bj', 'global');
    const link = links.select('ez-sh', 'ez-bj').find((p) => p.name === name)!;
    expect(link, name).toBeDefined();
    // only this link: ez-sh keeps its GZS and DRC links, so only the Global-Zone write is cut off
    const cut = await link.update({ listen: link.listen, upstream: link.upstream, enabled: false });
    try {
      const sh = await cluster.connect('ez-sh');
      let message = '';
      try {
        await sh.execute(
          "INSERT INTO users (id, phone, name, version, updated_at) VALUES ('u-cut', '+8613600000000', 'x', 1, NOW(6))",
        );
      } catch (err) {
        message = (err as { sqlMessage?: string }).sqlMessage ?? '';
      }
      expect(message).toMatch(/^EZ_GLOBAL_UNAVAILABLE the Global-Zone master ez-bj cannot be reached/);
      const r = await register('ez-sh', '+8613600000001');
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe('EZ_GLOBAL_UNAVAILABLE');
      // reads of the Global Zone are local: still served
      const [rows] = await sh.query("SELECT COUNT(*) AS n FROM users WHERE id = 'u-ryw-1'");
      expect(rows).toEqual([{ n: '1' }]);
    } finally {
      await cut.update({ listen: cut.listen, upstream: cut.upstream, enabled: true });
    }
  });
});
