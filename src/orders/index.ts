// The sample order service (DESIGN §1, §7): an order's life over HTTP in one eZone, its MariaDB
// store and the state machine every checker of the harness judges against.
export {
  isAction,
  isValidHistory,
  ORDER_ACTIONS,
  ORDER_STATES,
  type OrderAction,
  type OrderState,
  TRANSITIONS,
  transitionProblem,
} from './lifecycle.js';
export { isDatabaseDown, type OrderService, type OrderServiceOptions, startOrderService } from './service.js';
export { type NewOrder, type Order, OrderStore, orderVersion } from './store.js';
