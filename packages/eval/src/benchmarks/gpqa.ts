import { gradeChoice } from "../grading/gradeChoice.js";
import type { BenchmarkSpec, EvalItem } from "../types.js";
import { CHOICE_LETTERS, gpqaPrompt } from "./prompts.js";
import { applyLimit, defined, evalError, optionalText, readBenchmarkFile, requireField } from "./records.js";
import { goldPosition } from "./seededShuffle.js";

const HINT = 'Expected the official GPQA CSV (Idavidrein/gpqa, e.g. gpqa_diamond.csv) with "Question", "Correct Answer", "Incorrect Answer 1..3" and "Record ID".';

/**
 * Loads GPQA from the user's CSV (gated dataset, never shipped). As in lighteval's `gpqa:diamond`, the correct answer
 * is inserted among the three incorrect ones at a random position, drawn per item from an RNG seeded by
 * `(seed, Record ID)`: the same seed gives the same order on every run, and the gold letter is that position.
 */
export async function loadGpqaItems(path: string, opts: { name?: string; seed?: number; limit?: number } = {}): Promise<EvalItem[]> {
  const name = opts.name ?? "gpqa-diamond";
  const seed = opts.seed ?? 0;
  const component = `benchmark ${name}`;
  const items: EvalItem[] = [];
  for await (const loc of readBenchmarkFile(path, component)) {
    const id = requireField(loc, "Record ID", component, HINT).trim();
    const question = requireField(loc, "Question", component, HINT);
    const correct = requireField(loc, "Correct Answer", component, HINT).trim();
    const choices = [1, 2, 3].map((i) => requireField(loc, `Incorrect Answer ${i}`, component, HINT).trim());
    const gold = goldPosition(seed, id, 4);
    choices.splice(gold, 0, correct);
    const writer = optionalText(loc.rec, "Writer's Difficulty Estimate");
    items.push({
      benchmark: name,
      id,
      messages: gpqaPrompt(question, choices),
      kind: "choice",
      gold: CHOICE_LETTERS[gold] as string,
      choices,
      meta: defined({
        category: optionalText(loc.rec, "High-level domain"),
        subdomain: optionalText(loc.rec, "Subdomain"),
        // "Hard undergraduate level (could be …)" → "Hard undergraduate level".
        difficulty: writer?.replace(/\s*\(.*$/s, "").trim() || undefined,
      }),
    });
  }
  return applyLimit(items, opts.limit, component);
}

/** GPQA-Diamond (`gpqa_diamond.csv`, 198 questions): lighteval prompt, seeded choice shuffle, letter grading. */
export function gpqaDiamondBenchmark(): BenchmarkSpec {
  return {
    name: "gpqa-diamond",
    title: "GPQA-Diamond",
    kind: "choice",
    column: "GPQA",
    load: async (options = {}) => {
      if (!options.path) throw evalError("benchmark gpqa-diamond", "needs the path of your GPQA CSV (gated: download gpqa_diamond.csv from Idavidrein/gpqa and pass its path)");
      return loadGpqaItems(options.path, { seed: options.seed, limit: options.limit });
    },
    grade: async (item, completion) => gradeChoice(item.gold, completion, item.choices ?? 4),
  };
}
