export { NUMERIC_TOLERANCE } from "./equivalence.js";
export type { ExtractionSource, ExtractOptions } from "./extract.js";
export { DEFAULT_EXTRACTION_PRIORITY, extractAnswer, stripThinking } from "./extract.js";
export { normalizeAnswer } from "./normalize.js";
export type { MathReason, MathVerdict, VerifyMathOptions } from "./verifyMath.js";
export { verifyMath } from "./verifyMath.js";
