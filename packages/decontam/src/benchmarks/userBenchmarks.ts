import { type BenchmarkItem, loadBenchmarkItems } from "@infialign/data";

/** Keeps the meta fields these loaders have always reported. */
async function load(path: string, id: string, format: string, metaKeys: readonly string[]): Promise<BenchmarkItem[]> {
  const items = await loadBenchmarkItems({ id, format }, { path, textOnly: true });
  return items.map(({ meta, ...item }) => ({ ...item, meta: Object.fromEntries(metaKeys.filter((k) => meta?.[k] !== undefined).map((k) => [k, meta?.[k]])) }));
}

/**
 * Loads GPQA from its official CSV (`gpqa_diamond.csv`, `gpqa_main.csv`, `gpqa_extended.csv`;
 * a JSONL/Parquet export with the same columns works too), parsed by `@infialign/data`'s `gpqa` format. The matched
 * text is the `Question` alone: answer options are short, often generic ("None of the above", numbers)
 * and would only add false n-gram hits; training data that copies a GPQA problem copies
 * its question. id = `Record ID`; meta keeps the domain, subdomain and correct answer.
 */
export async function loadGpqa(path: string, opts: { name?: string } = {}): Promise<BenchmarkItem[]> {
  return load(path, opts.name ?? "gpqa", "gpqa", ["domain", "subdomain", "answer"]);
}

/**
 * Loads MMLU-Pro (`TIGER-Lab/MMLU-Pro` test or validation split, JSONL or Parquet; `@infialign/data`'s `mmlu-pro`
 * format). The matched text is `question` alone, for the same reason as GPQA; the options (up to 10)
 * stay in `meta.options`. id = `question_id`; meta keeps `category`, `src` and `answer`.
 */
export async function loadMmluPro(path: string, opts: { name?: string } = {}): Promise<BenchmarkItem[]> {
  return load(path, opts.name ?? "mmlu-pro", "mmlu-pro", ["category", "src", "answer", "options"]);
}

/**
 * Loads LiveCodeBench (`livecodebench/code_generation_lite` JSONL, e.g. `test5.jsonl`, or
 * Parquet; `@infialign/data`'s `livecodebench` format). The matched text is `question_title` + blank line +
 * `question_content`, the statement a model is prompted with; test cases and starter code are left out (they are
 * I/O data, not prose a training prompt would copy). id = `question_id`; meta keeps
 * `platform`, `contestDate` and `difficulty` so users can filter by release window.
 */
export async function loadLiveCodeBench(path: string, opts: { name?: string } = {}): Promise<BenchmarkItem[]> {
  return load(path, opts.name ?? "livecodebench", "livecodebench", ["platform", "contestDate", "difficulty"]);
}
