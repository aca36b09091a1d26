// The DAL's statement classifier (pure: no I/O): lex and digest SQL text, classify each statement
// into a plan cached by digest, bind an execution's values to the shard the proxy must check.
export { type BindRefused, type BindResult, type Bound, type BoundTarget, bind, slotValues } from './bind.js';
export {
  type ClassifiedStatement,
  type ClassifiedText,
  type ClassifierOptions,
  type ClassifierStats,
  type SessionState,
  StatementClassifier,
} from './classify.js';
export {
  HINTS,
  type Hint,
  type LexedStatement,
  type LexOptions,
  lexSql,
  mariadbVersionId,
  type Slot,
  type SlotKind,
  type SqlValue,
  Tok,
  type Token,
  type TokKind,
} from './lexer.js';
export { refusedVariable, SAFE_CHARSETS } from './session.js';
export * from './types.js';
