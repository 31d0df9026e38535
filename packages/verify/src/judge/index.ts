export { createJudge, type Judge, type JudgeConfig, type PairVerdict, type RubricScore } from "./judge.js";
export { parsePairVerdict, parseScore, type ScoreRange } from "./parseScore.js";
