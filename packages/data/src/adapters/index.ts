export { alpacaAdapter } from "./alpacaAdapter.js";
export { canonicalAdapter } from "./canonicalAdapter.js";
export { competitionAnswerAdapter } from "./competitionAnswerAdapter.js";
export type { ParsedTurns, Role } from "./conversation.js";
export { contentText, conversationSample, parseTurns } from "./conversation.js";
export type { AdaptFailure, FieldResult } from "./fields.js";
export {
  baseMeta,
  compact,
  failure,
  firstAnswer,
  isAbsent,
  missingAnswer,
  missingField,
  optionalAnswer,
  optionalString,
  requireString,
  sourceIds,
  typeName,
  wrongType,
} from "./fields.js";
export { gsm8kAdapter } from "./gsm8kAdapter.js";
export { mathAdapter } from "./mathAdapter.js";
export { OPENAI_ROLES, openaiMessagesAdapter } from "./openaiMessagesAdapter.js";
export { preferenceAdapter } from "./preferenceAdapter.js";
export { r1Adapter } from "./r1Adapter.js";
export type { AdapterIdentity } from "./registry.js";
export { ADAPTERS, detectAdapter, getAdapter } from "./registry.js";
export { SHAREGPT_ROLES, sharegptAdapter } from "./sharegptAdapter.js";
export type { AdaptContext, AdaptResult, SourceAdapter } from "./types.js";
