// The drill history (Jepsen's model): events, pairing into operations, the history.jsonl store.
export * from './events.js';
export { HistoryWriter, readHistory } from './store.js';
