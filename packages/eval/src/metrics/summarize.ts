import { normalizeAnswer } from "@infialign/verify";
import type { BenchmarkResult, EvalItem, GradeKind, SampleRecord } from "../types.js";
import { majorityCorrect } from "./majority.js";
import { mean, passAtK, standardError } from "./passAtK.js";

/** The key a sample votes with in maj@k: normalized math answer, upper-cased letter, or the trimmed program. */
export function answerKey(kind: GradeKind, extracted: string | undefined): string | undefined {
  if (extracted === undefined || extracted.trim() === "") return undefined;
  if (kind === "math") return normalizeAnswer(extracted).replace(/\s+/g, "");
  if (kind === "choice") return extracted.trim().toUpperCase();
  return extracted.trim();
}

/** Labels of a result; default to the benchmark name. */
export interface SummarizeLabels {
  title?: string;
  column?: string;
}

/**
 * Metrics of one benchmark from its items and persisted samples. Samples of other benchmarks or unknown items are
 * ignored, and a repeated (item, sampleIndex) counts once (the first). Items without samples (a partial run) are left
 * out. With n_i samples on item i: avgAtN = mean over items of the item's accuracy (R1's pass@1; equals the mean over
 * all samples when every n_i is equal); stderr = standardError of those per-item accuracies; pass@k (unbiased) and
 * maj@k (over each item's first k samples by sampleIndex) for every k in `k` up to the smallest n_i; `perItem` holds
 * each item's accuracy and `reasons` the grade reasons of the samples counted.
 */
export function summarize(items: readonly EvalItem[], samples: readonly SampleRecord[], k: readonly number[] = [1], labels: SummarizeLabels = {}): BenchmarkResult {
  const benchmark = items[0]?.benchmark ?? samples[0]?.benchmark ?? "";
  const byItem = new Map<string, Map<number, SampleRecord>>();
  for (const it of items) byItem.set(it.id, new Map());
  for (const s of samples) {
    if (s.benchmark !== benchmark) continue;
    const slot = byItem.get(s.itemId);
    if (slot && !slot.has(s.sampleIndex)) slot.set(s.sampleIndex, s);
  }
  const scored = items
    .map((item) => ({ item, samples: [...(byItem.get(item.id)?.values() ?? [])].sort((a, b) => a.sampleIndex - b.sampleIndex) }))
    .filter((x) => x.samples.length > 0);
  const scores = itemScores(scored.map((x) => [x.item.id, x.samples]));
  const perItem = scored.map((x) => scores.perItem[x.item.id] as number);
  const samplesPerItem = scored.length === 0 ? 0 : Math.min(...scored.map((x) => x.samples.length));

  const passAt: Record<string, number> = {};
  const majAt: Record<string, number> = {};
  for (const kk of [...new Set(k)].sort((a, b) => a - b)) {
    if (!Number.isInteger(kk) || kk < 1) throw new RangeError(`[infialign/eval] metrics: k values must be positive integers, got ${kk}`);
    if (kk > samplesPerItem) continue;
    passAt[String(kk)] = mean(scored.map((x) => passAtK(x.samples.length, x.samples.filter((s) => s.grade.correct).length, kk)));
    majAt[String(kk)] = mean(
      scored.map((x) => (majorityCorrect(x.samples.slice(0, kk).map((s) => ({ key: answerKey(x.item.kind, s.grade.extracted), correct: s.grade.correct }))) ? 1 : 0)),
    );
  }

  const groups = new Map<string, number[]>();
  scored.forEach((x, i) => {
    const d = x.item.meta.difficulty ?? x.item.meta.level;
    if (d === undefined || d === null || d === "") return;
    const list = groups.get(String(d)) ?? [];
    list.push(perItem[i] as number);
    groups.set(String(d), list);
  });
  const byDifficulty =
    groups.size === 0
      ? undefined
      : Object.fromEntries(
          [...groups.entries()]
            .sort(([a], [b]) => a.localeCompare(b, "en", { numeric: true }))
            .map(([d, list]) => [d, { items: list.length, avgAtN: mean(list) }]),
        );

  return {
    benchmark,
    title: labels.title ?? benchmark,
    column: labels.column ?? benchmark,
    items: scored.length,
    samplesPerItem,
    avgAtN: scored.length === 0 ? 0 : mean(perItem),
    stderr: standardError(perItem),
    passAtK: passAt,
    majAtK: majAt,
    ...(byDifficulty && { byDifficulty }),
    ...scores,
  };
}

/** Each item's accuracy over its samples and the samples' grade reasons, from `[item id, samples]` pairs. */
export function itemScores(items: Iterable<readonly [id: string, samples: readonly SampleRecord[]]>): Pick<BenchmarkResult, "perItem" | "reasons"> {
  const perItem: Record<string, number> = {};
  const reasons: Record<string, number> = {};
  for (const [id, samples] of items) {
    if (samples.length === 0) continue;
    let correct = 0;
    for (const s of samples) {
      if (s.grade.correct) correct++;
      if (s.grade.reason !== undefined) reasons[s.grade.reason] = (reasons[s.grade.reason] ?? 0) + 1;
    }
    perItem[id] = correct / samples.length;
  }
  return { perItem, reasons };
}

/** Mean of the benchmarks' avgAtN (the paper's "Avg" column); NaN when there are none. */
export function averageOf(results: readonly BenchmarkResult[]): number {
  return mean(results.map((r) => r.avgAtN));
}
