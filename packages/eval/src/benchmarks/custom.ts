import { defineBenchmark } from "@infialign/data";
import type { BenchmarkSpec } from "../types.js";
import { benchmarkSpec, evalError } from "./spec.js";

/** One problem of a custom math benchmark. */
export interface CustomMathItem {
  /** Unique within the benchmark. */
  id: string;
  problem: string;
  /** Gold final answer (LaTeX or plain), compared with `verifyMath`. */
  answer: string;
  /** Difficulty for the per-difficulty breakdown (e.g. number of reasoning steps). */
  difficulty?: number | string;
  /** Topic, kept in `meta.domain`. */
  domain?: string;
}

/** Options of `customMathBenchmark`. */
export interface CustomMathBenchmarkOptions {
  /** Benchmark name used in sample records and results. */
  name: string;
  /** Human name for reports. */
  title: string;
  /** Column label in the paper-style table. @default title */
  column?: string;
  items: readonly CustomMathItem[];
}

/**
 * A math benchmark from in-memory items (for instance a generated held-out split): R1 math prompt, `verifyMath`
 * grading, `difficulty` and `domain` copied into `meta`. Items are validated once, here; ids must be unique.
 */
export function customMathBenchmark(opts: CustomMathBenchmarkOptions): BenchmarkSpec {
  const component = `benchmark ${opts.name}`;
  if (typeof opts.name !== "string" || opts.name.trim() === "") throw evalError("custom benchmark", "name must be a non-empty string");
  const seen = new Set<string>();
  const problems: string[] = [];
  opts.items.forEach((it, i) => {
    const at = `item ${i} (id ${JSON.stringify(it?.id)})`;
    if (typeof it?.id !== "string" || it.id === "") problems.push(`${at}: "id" must be a non-empty string`);
    else if (seen.has(it.id)) problems.push(`${at}: duplicate id`);
    else seen.add(it.id);
    if (typeof it?.problem !== "string" || it.problem.trim() === "") problems.push(`${at}: "problem" must be a non-empty string`);
    if (typeof it?.answer !== "string" || it.answer.trim() === "") problems.push(`${at}: "answer" must be a non-empty string`);
  });
  if (problems.length > 0) throw evalError(component, `invalid items:\n  ${problems.join("\n  ")}`);
  // defineBenchmark copies the records, so later changes to the caller's array do not change the benchmark.
  const definition = defineBenchmark({
    id: opts.name,
    title: opts.title,
    column: opts.column ?? opts.title,
    format: "math",
    fields: { problem: "problem", answer: "answer", id: "id" },
    records: opts.items.map((it) => ({ id: it.id, problem: it.problem, answer: it.answer, ...(it.difficulty !== undefined && { difficulty: it.difficulty }), ...(it.domain !== undefined && { domain: it.domain }) })),
  });
  return benchmarkSpec(definition);
}
