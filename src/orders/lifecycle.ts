/**
 * An order's life (DESIGN §7 invariant 4): placed → accepted → picked_up → delivered, and
 * cancelled from placed or accepted. Every accepted transition is one conditional UPDATE whose
 * WHERE names the states it may start from, so two racing writers cannot both win.
 */
export const ORDER_STATES = ['placed', 'accepted', 'picked_up', 'delivered', 'cancelled'] as const;
export type OrderState = (typeof ORDER_STATES)[number];

export const ORDER_ACTIONS = ['accept', 'pickup', 'deliver', 'cancel'] as const;
export type OrderAction = (typeof ORDER_ACTIONS)[number];

export const TRANSITIONS: Record<OrderAction, { from: readonly OrderState[]; to: OrderState }> = {
  accept: { from: ['placed'], to: 'accepted' },
  pickup: { from: ['accepted'], to: 'picked_up' },
  deliver: { from: ['picked_up'], to: 'delivered' },
  cancel: { from: ['placed', 'accepted'], to: 'cancelled' },
};

export const isAction = (s: string): s is OrderAction => (ORDER_ACTIONS as readonly string[]).includes(s);

/** Why `action` cannot run on an order in `state`, or undefined when it can. */
export function transitionProblem(action: OrderAction, state: string): string | undefined {
  const t = TRANSITIONS[action];
  if ((t.from as readonly string[]).includes(state)) return undefined;
  return `cannot ${action} an order that is ${state} (${action} needs ${t.from.join(' or ')})`;
}

/** Is `path` (a list of states as observed) a walk of the state machine from placed? */
export function isValidHistory(path: readonly string[]): boolean {
  if (path.length === 0 || path[0] !== 'placed') return false;
  for (let i = 1; i < path.length; i++) {
    const ok = ORDER_ACTIONS.some(
      (a) =>
        TRANSITIONS[a].to === path[i] && (TRANSITIONS[a].from as readonly string[]).includes(path[i - 1]),
    );
    if (!ok) return false;
  }
  return true;
}
