// Held-out evaluations for tests, summarized by @infialign/eval itself from per-sample verdicts.
import { averageOf, type EvalItem, resolveProtocol, type SampleRecord, summarize } from "@infialign/eval";
import type { ModelEvaluation } from "../src/steps/evaluate.js";

/** Per item id, each sample's verdict: true (correct), false (wrong answer) or null (no answer). */
export type Verdicts = Record<string, Array<boolean | null>>;

export function evaluationOf(model: string, verdicts: Verdicts, options: { difficulty?: (id: string) => number; byDomain?: ModelEvaluation["byDomain"] } = {}): ModelEvaluation {
  const items: EvalItem[] = Object.keys(verdicts).map((id) => ({ benchmark: "heldout", id, messages: [], kind: "math", gold: "", meta: options.difficulty ? { difficulty: options.difficulty(id) } : {} }));
  const samples: SampleRecord[] = Object.entries(verdicts).flatMap(([itemId, list]) =>
    list.map((v, sampleIndex) => ({ benchmark: "heldout", itemId, sampleIndex, completion: "", finishReason: "stop", grade: { correct: v === true, reason: v === null ? "no_answer" : v ? "equal_exact" : "unequal" } })),
  );
  const result = summarize(items, samples, [1], { title: "Held-out split" });
  const protocol = resolveProtocol("default", { samples: { default: result.samplesPerItem || 1 } });
  return { model, run: { model, protocol, benchmarks: [result], average: averageOf([result]), createdAt: "1970-01-01T00:00:00.000Z" }, byDomain: options.byDomain ?? {}, seconds: 1 };
}
