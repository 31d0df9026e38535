export { extractChoice, verifyChoice } from "./extractChoice.js";
export type { ChoiceExtraction, ChoiceOptions, ChoiceVerdict } from "./extractChoice.js";
