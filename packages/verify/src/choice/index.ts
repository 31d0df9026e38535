export type { ChoiceExtraction, ChoiceOptions, ChoiceVerdict } from "./extractChoice.js";
export { extractChoice, verifyChoice } from "./extractChoice.js";
