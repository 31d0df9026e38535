export { majorityCorrect, type Vote } from "./majority.js";
export { mean, passAtK, standardError } from "./passAtK.js";
export { answerKey, averageOf, itemScores, type SummarizeLabels, summarize } from "./summarize.js";
