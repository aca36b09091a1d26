// Refusals: one shape for every "no" of the classifier and of bind(), message first word = code.
import type { Hint } from './lexer.js';
import type { Refusal, RefusalCode, RefusedPlan } from './types.js';

/** A refusal whose text has no literal value (plan time: built from the digest's shape). */
export function refusal(code: RefusalCode, digest: string, what: string, table?: string): Refusal {
  const message = table === undefined ? `${code} ${what}` : `${code} table=${table} ${what}`;
  return table === undefined
    ? { code, message, reason: message, digest }
    : { code, table, message, reason: message, digest };
}

export interface PlanContext {
  readonly digest: string;
  readonly hints: readonly Hint[];
}

export function refused(ctx: PlanContext, code: RefusalCode, what: string, table?: string): RefusedPlan {
  return {
    kind: 'refused',
    digest: ctx.digest,
    hints: ctx.hints,
    refusal: refusal(code, ctx.digest, what, table),
  };
}

/** EZ_DENIED: not let through at all ("deny unknown", DESIGN §4). */
export function denied(ctx: PlanContext, what: string): RefusedPlan {
  return refused(ctx, 'EZ_DENIED', what);
}
