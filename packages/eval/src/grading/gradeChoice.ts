import { verifyChoice } from "@infialign/verify";
import type { Grade } from "../types.js";

/**
 * Grades a multiple-choice completion: the chosen letter is extracted with `extractChoice` (`\boxed{C}`,
 * "answer is (C)" / "Answer: C", bold `**C**`, a lone last-line letter, then an echoed option text) over the letters
 * of `choices` (texts in presented order, or their count) and compared with `goldLetter`. `reason`: `extracted`
 * (a letter was found; wrong when it differs), `ambiguous` (two letters where the rule decided) or `no_answer`.
 */
export function gradeChoice(goldLetter: string, completion: string, choices: readonly string[] | number): Grade {
  const v = verifyChoice(goldLetter, completion, { options: choices });
  return { correct: v.correct, reason: v.correct ? "correct" : v.reason === "extracted" ? "wrong_choice" : v.reason, ...(v.extracted !== undefined && { extracted: v.extracted }) };
}
