// Contracts of the benchmark registry: what a benchmark is (definition), how its files are parsed (format) and what
// loading gives (items). Evaluation (@infialign/eval) and decontamination (@infialign/decontam) read the same items.

/** A stdin/stdout or function-call test of a code problem (LiveCodeBench `testtype`). */
export interface CodeTestCase {
  input: string;
  output: string;
  testtype: "stdin" | "functional";
}

/** What is needed to ask and grade an item; absent when loaded with `textOnly` or from a text-only format. */
export type BenchmarkTask =
  /** `answer`: the gold final answer (LaTeX or plain); the problem is the item's `text`. */
  | { kind: "math"; answer: string }
  /**
   * The question is the item's `text`; `answer` indexes `options`. `shuffle`: the source lists the correct option
   * first (GPQA), so an evaluator must shuffle the options before asking.
   */
  | { kind: "choice"; options: string[]; answer: number; shuffle: boolean }
  /** `statement`: the problem as a model is asked it (the item's `text` may add a title); graded by `tests`. */
  | { kind: "code"; statement: string; tests: CodeTestCase[]; funcName?: string; starterCode?: string };

/** How a format's items are graded; `text` formats carry no gold and serve decontamination only. */
export type BenchmarkKind = BenchmarkTask["kind"] | "text";

/** One benchmark problem. */
export interface BenchmarkItem {
  /** Registry id of the benchmark, e.g. `"math500"`. */
  benchmark: string;
  /** The item's id in its file (its id field, else the 1-based line or 0-based row). */
  id: string;
  /** The problem statement: what decontamination matches and what an evaluator asks. */
  text: string;
  /** Facts for reports and breakdowns (`level`, `difficulty`, `category`, `contestDate`, …); never matched. */
  meta?: Record<string, unknown>;
  task?: BenchmarkTask;
}

/** One record of a benchmark file, with its position for messages. */
export interface BenchmarkRecord {
  value: Record<string, unknown>;
  /** `GPQA file "x.csv" line 3` (or `row 2` for Parquet and JSON arrays). */
  where: string;
  /** The 1-based line or 0-based row: the item id when the format finds no id field. */
  position: string;
}

/** What a format's `parse` is told. */
export interface BenchmarkParseContext {
  /** Registry id the items are labelled with. */
  benchmark: string;
  /** Read only id, text and meta (what decontamination needs): no gold answers or tests are required or decoded. */
  textOnly: boolean;
  /** The definition's field mapping (`{ problem: "question" }`), for formats that take one. */
  fields: Readonly<Record<string, string>>;
  /** The definition's format options merged with the load's (e.g. a LiveCodeBench `release`). */
  options: Readonly<Record<string, unknown>>;
}

/** Parses the records of one kind of benchmark file. */
export interface BenchmarkFormat {
  /** e.g. `"gpqa"`; built-in names are usable as `format` in definitions. */
  name: string;
  kind: BenchmarkKind;
  /** File kind in messages: `GPQA file "x.csv" line 2 …`. @default "benchmark" */
  label?: string;
  /** What an empty file should have held, for its error. */
  expected?: string;
  /** Field names `fields` may map (math: `problem`, `answer`, `id`); none when absent. */
  fields?: readonly string[];
  /** Largest record accepted, in bytes (LiveCodeBench records carry megabytes of tests). @default 16 MiB */
  maxRecordBytes?: number;
  /** Validates and normalizes format options; throws naming the bad option. */
  options?(options: Record<string, unknown>): Record<string, unknown>;
  /** `id:variant` names (`livecodebench:v4_v5`): the options a variant stands for. */
  variant?(variant: string): Record<string, unknown>;
  /** One record → an item, or undefined to leave the record out (a filter). Throws for a broken record. */
  parse(record: BenchmarkRecord, ctx: BenchmarkParseContext): BenchmarkItem | undefined;
}

/** Terms the benchmark data comes under; kept with every registered benchmark. */
export interface BenchmarkLicence {
  /** SPDX identifier ("MIT", "CC-BY-4.0"), or a short name where there is none. */
  spdx: string;
  /** Where the data comes from: repository or dataset, path, commit when known. */
  source: string;
  /** Copyright line the licence asks to keep. */
  copyright?: string;
  /** Anything a user must know (gated access, requests not to publish the questions). */
  note?: string;
}

/** A benchmark for `registerBenchmark` (or an unregistered, one-off `loadBenchmarkItems`). */
export interface BenchmarkDefinition {
  /** Lowercase letters, digits, ".", "_", "-": what items, samples, results and matches are labelled with. */
  id: string;
  /** Human name for reports. @default id */
  title?: string;
  /** Column label in paper-style tables. @default title */
  column?: string;
  /** A built-in format name (`math`, `gsm8k`, `gpqa`, `mmlu-pro`, `livecodebench`, `text`) or your own format. */
  format: string | BenchmarkFormat;
  /**
   * The data file (JSONL, JSON, CSV or Parquet, optionally gzip/zstd; a glob or dataset folder too). Relative paths
   * resolve against the working directory at registration. Leave it and `records` out for data every user must
   * fetch themselves (gated sets): the path is then given at load.
   */
  file?: string;
  /** In-memory records, in the format's schema, instead of a file. */
  records?: readonly Record<string, unknown>[];
  /** Field mapping for formats that take one (math: `{ problem, answer, id }`; text: `{ text, id }`). */
  fields?: Record<string, string>;
  /** Format options (LiveCodeBench: `release`, `since`, `until`). */
  options?: Record<string, unknown>;
  /** Required by `registerBenchmark`. */
  licence?: BenchmarkLicence;
  /** Former names that keep resolving to this benchmark, with a deprecation warning. */
  aliases?: readonly string[];
  /** What the user must provide when there is no file, for the error: "GPQA CSV (gated: …)". */
  obtain?: string;
}

/** A validated definition: defaults filled, format resolved, file absolute. */
export interface RegisteredBenchmark {
  id: string;
  title: string;
  column: string;
  format: BenchmarkFormat;
  /** Absolute path of the data file; for a shipped benchmark its name in `shippedBenchmarkDir()`. */
  file?: string;
  records?: readonly Record<string, unknown>[];
  fields: Readonly<Record<string, string>>;
  options: Readonly<Record<string, unknown>>;
  licence?: BenchmarkLicence;
  aliases: readonly string[];
  obtain?: string;
  /** Shipped with @infialign/data (`file` lies in `shippedBenchmarkDir()`). */
  shipped: boolean;
}

/** Options of `loadBenchmarkItems`. */
export interface LoadBenchmarkOptions {
  /** Read this file instead of the definition's (required for benchmarks without one). */
  path?: string;
  /** Keep the first N items (after any filter). @default all */
  limit?: number;
  /** Only id, text and meta, as decontamination needs: no gold or tests required or decoded. @default false */
  textOnly?: boolean;
  /** Format options over the definition's (e.g. `{ release: "v5" }`). */
  options?: Record<string, unknown>;
}
