/** The order state machine (src/orders TRANSITIONS) as the checkers walk it. */
import { ORDER_STATES, TRANSITIONS } from '../../src/orders/index.js';

/** states with no step out of them (delivered, cancelled) */
export const TERMINAL: ReadonlySet<string> = new Set(
  ORDER_STATES.filter(
    (s) => !Object.values(TRANSITIONS).some((t) => (t.from as readonly string[]).includes(s)),
  ),
);

/** Is `to` reachable from `from` by zero or more steps of the state machine? */
export function reachable(from: string, to: string): boolean {
  const seen = new Set<string>([from]);
  const todo = [from];
  while (todo.length) {
    const s = todo.pop()!;
    if (s === to) return true;
    for (const t of Object.values(TRANSITIONS))
      if ((t.from as readonly string[]).includes(s) && !seen.has(t.to)) {
        seen.add(t.to);
        todo.push(t.to);
      }
  }
  return false;
}
