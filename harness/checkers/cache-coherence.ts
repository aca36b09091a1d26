/**
 * §7.7 Cache coherence: after drain, no cache entry in any eZone differs from its database row
 * (version and state). A missing cache entry is a miss, not a difference; an entry for a row that
 * does not exist is one. Unknown when no entry was sampled.
 */
import { type CheckInput, isOrderWrite, lineOf, lines, opsByOrder, outcome } from './input.js';
import { type CheckResult, type Evidence, judge } from './verdict.js';

export function cacheCoherence(input: Pick<CheckInput, 'events' | 'cache'>): CheckResult {
  const v: string[] = [];
  const evidence: Evidence[] = [];
  const samples = input.cache ?? [];
  const byOrder = opsByOrder(input.events);
  let checked = 0;
  for (const s of samples) {
    if (s.cached === null) continue; // nothing cached: a miss reads the row
    checked++;
    const { cached, row } = s;
    if (row && row.version === cached.version && row.state === cached.state) continue;
    // the order's last write the history shows (what the cache should have followed)
    const writes = (byOrder.get(s.orderId) ?? []).filter((o) => isOrderWrite(o) && outcome(o) !== 'fail');
    const proof = writes.length ? [lineOf(writes[writes.length - 1])] : [];
    v.push(
      `order ${s.orderId} in ${s.zone}: cache holds ${cached.state} v${cached.version}, ` +
        `database ${row ? `${row.state} v${row.version}` : 'has no row'}` +
        (proof.length ? ` (last write: ${lines(proof)})` : ''),
    );
    evidence.push({ orderId: s.orderId, zone: s.zone, lines: proof });
  }
  return judge({
    checked,
    violations: v,
    evidence,
    unknown:
      checked === 0
        ? samples.length
          ? 'every sampled entry was a cache miss'
          : 'no cache entry was sampled'
        : undefined,
  });
}
