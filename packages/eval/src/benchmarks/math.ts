import { join } from "node:path";
import { extractGsm8kFinal } from "@infialign/data";
import { shippedDataDir } from "@infialign/decontam";
import { gradeMath } from "../grading/gradeMath.js";
import type { BenchmarkSpec, EvalItem } from "../types.js";
import { mathPrompt } from "./prompts.js";
import { applyLimit, defined, evalError, type LocatedRecord, optionalText, readBenchmarkFile, requireField } from "./records.js";

/** The math benchmarks shipped with @infialign/decontam (its `data/` folder). */
export type ShippedMathBenchmark = "aime24" | "aime25" | "amc23" | "math500" | "gsm8k";

interface ShippedMathSource {
  title: string;
  column: string;
  file: string;
  problem: string;
  id?: string;
  gold(loc: LocatedRecord, component: string): string;
  meta?(rec: Record<string, unknown>): Record<string, unknown>;
}

const answerField = (loc: LocatedRecord, component: string): string => requireField(loc, "answer", component, "Shipped files carry the gold in \"answer\".");

const SOURCES: Record<ShippedMathBenchmark, ShippedMathSource> = {
  aime24: { title: "AIME 2024", column: "AIME24", file: "aime24.jsonl", problem: "problem", id: "id", gold: answerField },
  aime25: { title: "AIME 2025", column: "AIME25", file: "aime25.jsonl", problem: "problem", gold: answerField },
  amc23: { title: "AMC 2023", column: "AMC23", file: "amc23.jsonl", problem: "problem", id: "id", gold: answerField },
  math500: {
    title: "MATH-500",
    column: "MATH500",
    file: "math500.jsonl",
    problem: "problem",
    id: "unique_id",
    gold: answerField,
    meta: (rec) => {
      const level = Number(rec.level);
      return defined({ level: Number.isInteger(level) ? level : undefined, difficulty: Number.isInteger(level) ? level : undefined, subject: optionalText(rec, "subject") });
    },
  },
  gsm8k: {
    title: "GSM8K (test)",
    column: "GSM8K",
    file: "gsm8k-test.jsonl",
    problem: "question",
    gold: (loc, component) => {
      const final = extractGsm8kFinal(requireField(loc, "answer", component, "GSM8K answers end with \"#### <number>\"."));
      if (final === undefined) throw evalError(component, `${loc.where} has an "answer" without a "#### <number>" final line`);
      return final;
    },
  },
};

/**
 * Control characters left where a JSON escape ate a LaTeX backslash upstream (`\f` of `\frac`, `\t` of `\triangle`
 * in AIME 2025 lines 19 and 28; see @infialign/decontam `data/README.md`): restore the command.
 */
export function repairLatexEscapes(text: string): string {
  return text.replace(/\f(?=rac)/g, "\\f").replace(/\t(?=riangle|imes|heta|ext|frac)/g, "\\t").replace(/\x08(?=inom|oxed|egin)/g, "\\b");
}

/** Loads a shipped math benchmark file (always the whole file; `path` is not used). */
async function loadShipped(name: ShippedMathBenchmark, limit: number | undefined): Promise<EvalItem[]> {
  const src = SOURCES[name];
  const component = `benchmark ${name}`;
  const items: EvalItem[] = [];
  let line = 0;
  for await (const loc of readBenchmarkFile(join(shippedDataDir(), src.file), component)) {
    line++;
    const problem = repairLatexEscapes(requireField(loc, src.problem, component, `Shipped ${name} items carry the problem in "${src.problem}".`));
    const id = src.id === undefined ? String(line) : requireField(loc, src.id, component, `Shipped ${name} items carry an id in "${src.id}".`);
    items.push({ benchmark: name, id, messages: mathPrompt(problem), kind: "math", gold: src.gold(loc, component), meta: src.meta?.(loc.rec) ?? {} });
  }
  return applyLimit(items, limit, component);
}

/** A shipped math benchmark as a `BenchmarkSpec`: R1 math prompt, `verifyMath` grading. */
export function shippedMathBenchmark(name: ShippedMathBenchmark): BenchmarkSpec {
  const src = SOURCES[name];
  return {
    name,
    title: src.title,
    kind: "math",
    column: src.column,
    load: (options = {}) => loadShipped(name, options.limit),
    grade: async (item, completion) => gradeMath(item.gold, completion),
  };
}
