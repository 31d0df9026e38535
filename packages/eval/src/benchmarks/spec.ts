import { type BenchmarkItem, type LoadBenchmarkOptions, loadBenchmarkItems, type RegisteredBenchmark } from "@infialign/data";
import { gradeChoice } from "../grading/gradeChoice.js";
import { gradeCode } from "../grading/gradeCode.js";
import { gradeMath } from "../grading/gradeMath.js";
import type { BenchmarkSpec, EvalItem, GradeKind } from "../types.js";
import { CHOICE_LETTERS, gpqaPrompt, liveCodeBenchPrompt, mathPrompt, mmluProPrompt } from "./prompts.js";
import { goldPosition } from "./seededShuffle.js";

export function evalError(component: string, message: string, cause?: unknown): Error {
  return new Error(`[infialign/eval] ${component}: ${message}`, cause === undefined ? undefined : { cause });
}

/** A LiveCodeBench filter as a title suffix: "v4_v5, since 2024-08-01". */
function windowLabel(options: Readonly<Record<string, unknown>>): string {
  const { release, since, until } = options as { release?: string; since?: string; until?: string };
  return [release, since && `since ${since}`, until && `until ${until}`].filter(Boolean).join(", ");
}

/**
 * A registered benchmark item → an item to prompt and grade. Prompts follow the harness each format comes from: R1's
 * math instruction; MMLU-Pro's official zero-shot CoT for the `mmlu-pro` format, lighteval's GPQA template for other
 * choice sets (options shuffled per item from `(seed, id)` when the source lists the correct one first);
 * LiveCodeBench's generic template for code. Meta is the item's, without the gold (`answer`, `options`) and with a
 * choice set's `domain` as `category`, the breakdown axis of choice sets.
 */
export function toEvalItem(item: BenchmarkItem, format: string, seed: number): EvalItem {
  const task = item.task;
  const meta = { ...item.meta };
  const base = { benchmark: item.benchmark, id: item.id };
  if (task === undefined) throw evalError(`benchmark ${item.benchmark}`, `item ${item.id} has no gold answer or tests to grade against`);
  if (task.kind === "math") return { ...base, messages: mathPrompt(item.text), kind: "math", gold: task.answer, meta };
  if (task.kind === "code") {
    const tests = { cases: task.tests, ...(task.funcName !== undefined && { funcName: task.funcName }), ...(task.starterCode !== undefined && { starterCode: task.starterCode }) };
    return { ...base, messages: liveCodeBenchPrompt(task.statement, task.starterCode), kind: "code", gold: "", tests, meta };
  }
  let options = task.options;
  let answer = task.answer;
  if (task.shuffle) {
    // As lighteval's gpqa:diamond: the correct option goes among the others at a position drawn from (seed, id).
    const others = options.filter((_, i) => i !== answer);
    answer = goldPosition(seed, item.id, options.length);
    options = [...others.slice(0, answer), options[task.answer] as string, ...others.slice(answer)];
  }
  const { answer: _gold, options: _options, domain, ...rest } = meta;
  const category = rest.category ?? domain;
  const messages = format === "mmlu-pro" ? mmluProPrompt(item.text, options, typeof category === "string" ? category : "") : gpqaPrompt(item.text, options);
  return { ...base, messages, kind: "choice", gold: CHOICE_LETTERS[answer] as string, choices: options, meta: category === undefined ? rest : { ...rest, category } };
}

/**
 * The evaluation of a registered benchmark (`@infialign/data`'s registry): items loaded by its format's parser,
 * prompted and graded by kind (math: `verifyMath`; choice: the letter; code: sandboxed tests). `load({ path })` reads
 * your copy where the benchmark ships none; `seed` fixes shuffled options. `options` are format options over the
 * definition's (LiveCodeBench's release window).
 */
export function benchmarkSpec(def: RegisteredBenchmark, extra: Pick<LoadBenchmarkOptions, "options"> = {}): BenchmarkSpec {
  const { format } = def;
  if (format.kind === "text") {
    throw evalError(
      `benchmark ${def.id}`,
      `format "${format.name}" holds problem texts without gold answers, so it serves decontamination only; register it with a format that has answers (math, gsm8k, gpqa, mmlu-pro, livecodebench or your own)`,
    );
  }
  const kind: GradeKind = format.kind;
  const window = format.name === "livecodebench" ? windowLabel({ ...def.options, ...extra.options }) : "";
  return {
    name: def.id,
    title: window ? `${def.title} (${window})` : def.title,
    kind,
    column: def.column,
    load: async (options = {}) => {
      const items = await loadBenchmarkItems(def, {
        ...(options.path === undefined ? {} : { path: options.path }),
        ...(options.limit === undefined ? {} : { limit: options.limit }),
        ...(extra.options === undefined ? {} : { options: extra.options }),
      });
      return items.map((item) => toEvalItem(item, format.name, options.seed ?? 0));
    },
    grade: async (item, completion) => {
      if (item.kind === "choice") return gradeChoice(item.gold, completion, item.choices ?? CHOICE_LETTERS.length);
      if (item.kind === "code") return gradeCode(item.tests?.cases ?? [], completion, item.tests?.funcName === undefined ? {} : { funcName: item.tests.funcName });
      return gradeMath(item.gold, completion);
    },
  };
}
