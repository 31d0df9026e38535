import { isAbsolute, join, resolve } from "node:path";
import { z } from "zod";
import { benchmarkError } from "./benchmarkRecords.js";
import { BENCHMARK_FORMATS } from "./formats/index.js";
import { shippedBenchmarkDir } from "./shipped.js";
import type { BenchmarkDefinition, BenchmarkFormat, RegisteredBenchmark } from "./types.js";

const NAME = /^[a-z0-9][a-z0-9._-]*$/;
const NAME_RULE = 'lowercase letters, digits, ".", "_" or "-"';
const MATH_HARNESS = "Zhuofeng-Li/math-evaluation-harness";
const GOU = "Copyright (c) 2024 Zhibin Gou";

/** The built-in benchmarks: shipped math sets (files in `shippedBenchmarkDir()`) and sets every user fetches. */
const BUILT_IN: readonly BenchmarkDefinition[] = [
  {
    id: "aime24",
    title: "AIME 2024",
    column: "AIME24",
    format: "math",
    file: "aime24.jsonl",
    fields: { problem: "problem", answer: "answer", id: "id" },
    licence: { spdx: "MIT", source: `${MATH_HARNESS} data/aime24/test.jsonl at 1b9885d81796 (= QwenLM/Qwen2.5-Math evaluation/data/aime24/test.jsonl)`, copyright: GOU },
  },
  {
    id: "aime25",
    title: "AIME 2025",
    column: "AIME25",
    format: "math",
    file: "aime25.jsonl",
    fields: { problem: "problem", answer: "answer" },
    licence: {
      spdx: "MIT",
      source: `${MATH_HARNESS} data/aime25/test.jsonl at a0448031ca94 (pull request #1; from Hugging Face math-ai/aime25)`,
      copyright: GOU,
      note: "No id field: ids are line numbers. Lines 19 and 28 hold a form feed where \\f of \\frac was under-escaped; it is repaired on load.",
    },
  },
  {
    id: "amc23",
    title: "AMC 2023",
    column: "AMC23",
    format: "math",
    file: "amc23.jsonl",
    fields: { problem: "problem", answer: "answer", id: "id" },
    licence: { spdx: "MIT", source: `${MATH_HARNESS} data/amc23/test.jsonl (= QwenLM/Qwen2.5-Math evaluation/data/amc23/test.jsonl)`, copyright: GOU },
  },
  {
    id: "math500",
    title: "MATH-500",
    column: "MATH500",
    format: "math",
    file: "math500.jsonl",
    fields: { problem: "problem", answer: "answer", id: "unique_id" },
    licence: { spdx: "MIT", source: `openai/prm800k prm800k/math_splits/test.jsonl (via ${MATH_HARNESS})`, copyright: "Copyright (c) 2023 OpenAI" },
  },
  {
    id: "gsm8k",
    title: "GSM8K (test)",
    column: "GSM8K",
    format: "gsm8k",
    file: "gsm8k-test.jsonl",
    aliases: ["gsm8k-test"],
    licence: { spdx: "MIT", source: "openai/grade-school-math grade_school_math/data/test.jsonl", copyright: "Copyright (c) 2021 OpenAI", note: "No id field: ids are line numbers." },
  },
  {
    id: "gpqa-diamond",
    title: "GPQA-Diamond",
    column: "GPQA",
    format: "gpqa",
    obtain: "GPQA CSV (gated: download gpqa_diamond.csv from Idavidrein/gpqa on Hugging Face and pass its path)",
    licence: { spdx: "CC-BY-4.0", source: "Idavidrein/gpqa (Hugging Face, gated), gpqa_diamond.csv", note: "The authors ask that the questions not be published in plain text, so they are never shipped." },
  },
  {
    id: "mmlu-pro",
    title: "MMLU-Pro",
    column: "MMLU-Pro",
    format: "mmlu-pro",
    obtain: "MMLU-Pro file (TIGER-Lab/MMLU-Pro test split, JSONL or Parquet)",
    licence: { spdx: "MIT", source: "TIGER-Lab/MMLU-Pro (Hugging Face), test split" },
  },
  {
    id: "livecodebench",
    title: "LiveCodeBench",
    column: "LiveCodeBench",
    format: "livecodebench",
    obtain: "code_generation_lite JSONL (livecodebench/code_generation_lite, e.g. test5.jsonl)",
    licence: {
      spdx: "CC (version not stated)",
      source: "livecodebench/code_generation_lite (Hugging Face)",
      note: "Problems from LeetCode, AtCoder and Codeforces; files of several hundred MB each, not shipped.",
    },
  },
];

const isFormat = (v: unknown): v is BenchmarkFormat =>
  typeof v === "object" && v !== null && typeof (v as BenchmarkFormat).name === "string" && typeof (v as BenchmarkFormat).parse === "function" && ["math", "choice", "code", "text"].includes((v as BenchmarkFormat).kind);

const LicenceSchema = z.object({ spdx: z.string().min(1), source: z.string().min(1), copyright: z.string().min(1).optional(), note: z.string().min(1).optional() }).strict();

const DefinitionSchema = z
  .object({
    id: z.string().min(1),
    title: z.string().min(1).optional(),
    column: z.string().min(1).optional(),
    format: z.union([z.string(), z.custom<BenchmarkFormat>(isFormat, "a format object needs name, kind (math | choice | code | text) and parse()")]),
    file: z.string().min(1).optional(),
    records: z.array(z.record(z.string(), z.unknown())).optional(),
    fields: z.record(z.string(), z.string().min(1)).optional(),
    options: z.record(z.string(), z.unknown()).optional(),
    licence: LicenceSchema.optional(),
    aliases: z.array(z.string().regex(NAME, `must be ${NAME_RULE}`)).optional(),
    obtain: z.string().min(1).optional(),
  })
  .strict();

const resolved = new WeakSet<RegisteredBenchmark>();

/** Whether `def` came out of `defineBenchmark` or the registry, so needs no second check. */
export function isResolvedBenchmark(def: unknown): def is RegisteredBenchmark {
  return typeof def === "object" && def !== null && resolved.has(def as RegisteredBenchmark);
}

/**
 * Checks a definition and fills its defaults, without registering it: a one-off benchmark for `loadBenchmarkItems`
 * (and @infialign/eval's `benchmarkSpec`). Reports every problem at once.
 */
export function defineBenchmark(definition: BenchmarkDefinition): RegisteredBenchmark {
  return resolveDefinition(definition);
}

/** `register`: the id must be a registry name and a licence is required; `shipped`: `file` names a shipped file. */
function resolveDefinition(definition: BenchmarkDefinition, opts: { register?: boolean; shipped?: boolean } = {}): RegisteredBenchmark {
  const label = typeof definition?.id === "string" ? `benchmark "${definition.id}"` : "benchmark definition";
  const parsed = DefinitionSchema.safeParse(definition);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".") || "(definition)"}: ${i.message}`);
  if (!parsed.success) throw benchmarkError(`${label} is invalid:\n  ${problems.join("\n  ")}`);
  const def = parsed.data;
  const format = typeof def.format === "string" ? BENCHMARK_FORMATS[def.format] : def.format;
  if (!format) problems.push(`format: unknown format "${def.format}"; built-in formats: ${Object.keys(BENCHMARK_FORMATS).join(", ")} (or pass your own { name, kind, parse })`);
  if (opts.register && !NAME.test(def.id)) problems.push(`id: must be ${NAME_RULE}`);
  if (opts.register && !def.licence) problems.push("licence: required ({ spdx, source, copyright?, note? }) so that every registered benchmark says where it comes from and on what terms");
  if (def.file !== undefined && def.records !== undefined) problems.push("file and records: give one of them, not both");
  const allowed = format?.fields ?? [];
  for (const key of Object.keys(def.fields ?? {})) {
    if (!allowed.includes(key)) problems.push(`fields.${key}: format "${format?.name}" ${allowed.length ? `maps only ${allowed.join(", ")}` : "takes no field mapping"}`);
  }
  if (def.options !== undefined && format && !format.options) problems.push(`options: format "${format.name}" takes no options`);
  let options: Record<string, unknown> = {};
  if (def.options !== undefined && format?.options) {
    try {
      options = format.options(def.options);
    } catch (e) {
      problems.push(`options: ${(e as Error).message.replace(/^\[infialign\/data\] [\w-]+: /, "")}`);
    }
  }
  if (problems.length > 0) throw benchmarkError(`${label} is invalid:\n  ${problems.join("\n  ")}`);
  const title = def.title ?? def.id;
  // Shipped files are found when loaded, so that importing a package never touches the file system.
  const file = def.file === undefined || opts.shipped || isAbsolute(def.file) ? def.file : resolve(def.file);
  return remember({
    id: def.id,
    title,
    column: def.column ?? title,
    format: format as BenchmarkFormat,
    ...(file === undefined ? {} : { file }),
    ...(def.records === undefined ? {} : { records: def.records }),
    fields: Object.freeze({ ...def.fields }),
    options: Object.freeze(options),
    ...(def.licence === undefined ? {} : { licence: def.licence }),
    aliases: Object.freeze([...(def.aliases ?? [])]),
    ...(def.obtain === undefined ? {} : { obtain: def.obtain }),
    shipped: !!opts.shipped && file !== undefined,
  });
}

function remember(def: RegisteredBenchmark): RegisteredBenchmark {
  const frozen = Object.freeze(def);
  resolved.add(frozen);
  return frozen;
}

interface RegistryState {
  byId: Map<string, RegisteredBenchmark>;
  /** alias → id */
  aliases: Map<string, string>;
  warned: Set<string>;
}

// On globalThis so that an ES-module and a CommonJS copy of this package in one process share one registry.
const STATE = Symbol.for("@infialign/data/benchmark-registry");

function registry(): RegistryState {
  const holder = globalThis as { [STATE]?: RegistryState };
  if (!holder[STATE]) {
    const state: RegistryState = { byId: new Map(), aliases: new Map(), warned: new Set() };
    for (const def of BUILT_IN) add(state, resolveDefinition(def, { register: true, shipped: true }));
    holder[STATE] = state;
  }
  return holder[STATE];
}

function add(state: RegistryState, def: RegisteredBenchmark): void {
  for (const name of [def.id, ...def.aliases]) {
    const owner = state.byId.has(name) ? name : state.aliases.get(name);
    if (owner !== undefined) throw benchmarkError(`cannot register benchmark "${def.id}": the name "${name}" is taken by benchmark "${owner}"${BUILT_IN.some((b) => b.id === owner) ? " (built in)" : ""}; choose another id or alias`);
  }
  state.byId.set(def.id, def);
  for (const alias of def.aliases) state.aliases.set(alias, def.id);
}

/**
 * Adds a benchmark to the registry that evaluation (`getBenchmark` in @infialign/eval) and decontamination
 * (`loadBenchmark` in @infialign/decontam) both read, so one definition serves both. Its id and aliases must be new;
 * `licence` is required. Returns the validated definition.
 */
export function registerBenchmark(definition: BenchmarkDefinition): RegisteredBenchmark {
  const state = registry();
  const def = resolveDefinition(definition, { register: true });
  add(state, def);
  return def;
}

/** Removes a benchmark you registered (built-in ones stay); true when there was one. */
export function unregisterBenchmark(id: string): boolean {
  const state = registry();
  if (BUILT_IN.some((b) => b.id === id)) throw benchmarkError(`benchmark "${id}" is built in and cannot be unregistered`);
  const def = state.byId.get(id);
  if (!def) return false;
  state.byId.delete(id);
  for (const alias of def.aliases) state.aliases.delete(alias);
  return true;
}

/** Every registered benchmark, built-in ones first, in registration order. */
export function listBenchmarks(): RegisteredBenchmark[] {
  return [...registry().byId.values()];
}

/** Whether `name` (an id, an alias or `id:variant`) names a registered benchmark. */
export function hasBenchmark(name: string): boolean {
  const state = registry();
  const base = name.includes(":") ? name.slice(0, name.indexOf(":")) : name;
  return state.byId.has(base) || state.aliases.has(base);
}

/**
 * The benchmark `name` stands for: an id, a deprecated alias (resolved with a one-time DeprecationWarning naming the
 * id to use), or `id:variant` for formats with variants (`livecodebench:v4_v5`: the variant's options merged over
 * the definition's). Throws listing the registered ids.
 */
export function resolveBenchmark(name: string): RegisteredBenchmark {
  const state = registry();
  const colon = name.indexOf(":");
  const base = colon < 0 ? name : name.slice(0, colon);
  let def = state.byId.get(base);
  if (!def) {
    const id = state.aliases.get(base);
    if (id === undefined) {
      throw benchmarkError(`unknown benchmark "${name}"; known: ${[...state.byId.keys()].join(", ")}. Register your own with registerBenchmark({ id, format, file, licence }).`);
    }
    def = state.byId.get(id) as RegisteredBenchmark;
    if (!state.warned.has(base)) {
      state.warned.add(base);
      process.emitWarning(`benchmark name "${base}" is deprecated and resolves to "${id}"; use "${id}" (items, samples and matches are labelled "${id}").`, {
        type: "DeprecationWarning",
        code: "INFIALIGN_BENCHMARK_ALIAS",
      });
    }
  }
  if (colon < 0) return def;
  const variant = name.slice(colon + 1);
  if (!def.format.variant) throw benchmarkError(`benchmark "${def.id}" has no variants ("${name}"); format "${def.format.name}" takes none`);
  return remember({ ...def, options: Object.freeze({ ...def.options, ...def.format.variant(variant) }) });
}

/** The path of a benchmark's data file: shipped files lie in `shippedBenchmarkDir()`. */
export function benchmarkFile(def: RegisteredBenchmark): string | undefined {
  return def.file !== undefined && def.shipped ? join(shippedBenchmarkDir(), def.file) : def.file;
}
