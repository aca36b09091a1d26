// Every launcher kind in one list, the selection of `--only`/`--with`, and start phases.
import { UsageError } from '../../util/errors.js';
import { dal } from './dal.js';
import { drc } from './drc.js';
import { gzs } from './gzs.js';
import { invalidator } from './invalidator.js';
import { links } from './links.js';
import { mariadb } from './mariadb.js';
import { orders } from './orders.js';
import { redis } from './redis.js';
import { router } from './router.js';
import { soa } from './soa.js';
import type { ProcessKind } from './types.js';
import { zookeeper } from './zookeeper.js';

/** Every kind `ezctl up` knows, one line each. Order here is only the display order. */
export const KINDS: readonly ProcessKind[] = [
  links,
  mariadb,
  redis,
  zookeeper,
  gzs,
  drc,
  invalidator,
  dal,
  orders,
  soa,
  router,
];

export function kindOf(name: string): ProcessKind | undefined {
  return KINDS.find((k) => k.kind === name);
}

/**
 * The kinds `up` starts: every non-optional kind plus the optional ones asked for; with `only`,
 * just the kinds named there (e.g. `['mariadb', 'redis']` for the infrastructure alone).
 */
export function selectKinds(withOptional: readonly string[] = [], only?: readonly string[]): ProcessKind[] {
  if (only && only.length > 0) {
    for (const name of only) {
      if (!kindOf(name)) {
        throw new UsageError(
          `--only ${name}: unknown process kind (known: ${KINDS.map((x) => x.kind).join(', ')})`,
        );
      }
    }
    return KINDS.filter((k) => only.includes(k.kind) || withOptional.includes(k.kind));
  }
  for (const name of withOptional) {
    const k = kindOf(name);
    if (!k) {
      throw new UsageError(
        `--with ${name}: unknown process kind (known: ${KINDS.map((x) => x.kind).join(', ')})`,
      );
    }
    if (!k.optional) {
      throw new UsageError(
        `--with ${name}: ${name} always starts; --with takes an optional kind (${optionalKinds().join(', ')})`,
      );
    }
  }
  return KINDS.filter((k) => !k.optional || withOptional.includes(k.kind));
}

export const optionalKinds = (): string[] => KINDS.filter((k) => k.optional).map((k) => k.kind);

/**
 * Start order: a kind's phase is one more than the highest phase of the kinds it comes `after`
 * (kinds not selected are ignored). Instances of one phase start in parallel; `down` runs the
 * phases in reverse. Kinds unknown to this build (found in an old state file) stop first.
 */
export function phaseOf(kinds: readonly ProcessKind[] = KINDS): Map<string, number> {
  const byName = new Map(kinds.map((k) => [k.kind, k]));
  const phase = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (k: ProcessKind): number => {
    const known = phase.get(k.kind);
    if (known !== undefined) return known;
    if (visiting.has(k.kind)) throw new Error(`process kinds: dependency cycle through ${k.kind}`);
    visiting.add(k.kind);
    let p = 0;
    for (const dep of k.after) {
      const d = byName.get(dep);
      if (d) p = Math.max(p, visit(d) + 1);
    }
    visiting.delete(k.kind);
    phase.set(k.kind, p);
    return p;
  };
  for (const k of kinds) visit(k);
  return phase;
}

/** Group kinds by phase, in start order. */
export function phases(kinds: readonly ProcessKind[]): ProcessKind[][] {
  const phase = phaseOf(kinds);
  const out: ProcessKind[][] = [];
  for (const k of kinds) {
    const p = phase.get(k.kind)!;
    if (!out[p]) out[p] = [];
    out[p].push(k);
  }
  return out.filter(Boolean);
}

export type { InstanceSpec, LaunchCommand, PlanContext, ProcessKind } from './types.js';
