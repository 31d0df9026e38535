// What an SFT run reports: per phase (selection, batching, steps, losses, throughput) and for the whole curriculum,
// written as `<phase>/phase.json` and `run.json` and read by the HTML report.
import type { TrainingEngineName } from "@infialign/model";
import type { TrainLoopResult } from "../core/loop.js";
import type { CurriculumConfig, PhaseConfig } from "../curriculum.js";
import type { PackingReport } from "../data/packing.js";
import type { SelectionReport } from "../data/selectSamples.js";

/** How a phase's sequences were batched. */
export interface SftBatchingReport {
  /** `none` = padded batches of single samples; otherwise the TRL packing strategy. */
  strategy: PhaseConfig["packing"];
  maxLength: number;
  /** Rows per epoch (packed rows, or samples). */
  rows: number;
  /** Real tokens in one epoch. */
  realTokens: number;
  /** Token slots the micro-batches of one epoch occupy (rows × padded length), padding included. */
  paddedTokens: number;
  /** realTokens / paddedTokens: the share of compute spent on real tokens. */
  efficiency: number;
  /** Tokens cut by `maxLength` (tokenization for `none`, `bfd` truncation otherwise). */
  truncatedTokens: number;
  /** The packer's own report (efficiency against rows × maxLength), when packing. */
  packing?: PackingReport;
}

export interface SftPhaseSummary {
  name: string;
  selection: SelectionReport;
  trainSamples: number;
  evalSamples: number;
  /** Samples dropped because no label survived truncation (nothing to learn from them). */
  droppedNoLossTokens: number;
  batching: SftBatchingReport;
  /** Optimizer steps done / planned. */
  steps: number;
  maxSteps: number;
  /** Input tokens seen over the phase (TRL `num_tokens`). */
  tokens: number;
  finalTrainLoss?: number;
  finalEvalLoss?: number;
  /** Real input tokens per second of training in this process (resumed phases: since the resume). */
  tokensPerSecond: number;
  /** Wall-clock seconds of training in this process. */
  seconds: number;
  /** Step the phase resumed from, when it did. */
  resumedFromStep?: number;
  /** Phase directory (checkpoints, metrics.jsonl, final/). */
  dir: string;
  /** `<dir>/final`: an HF checkpoint, or a PEFT adapter for LoRA runs. Absent when interrupted. */
  finalDir?: string;
  skippedSteps: number;
}

export interface SftRunSummary {
  config: CurriculumConfig;
  /** tfjs backend the run used (it holds the weights and runs the tfjs engine). */
  backend: string;
  /** Training engine that computed the gradients. */
  engine: TrainingEngineName;
  /** Why `engine: "auto"` fell back to tfjs, when it did. */
  engineFallback?: string;
  phases: SftPhaseSummary[];
  /** Whether `signal` stopped the run (resume with `resume: true`). */
  interrupted: boolean;
  /** `<outputDir>/final`: HF checkpoint with merged weights and the tokenizer. Absent when interrupted. */
  finalDir?: string;
  /** `<outputDir>/adapter`: the PEFT adapter of a LoRA run. */
  adapterDir?: string;
  runJson: string;
  reportHtml: string;
}

export const PHASE_SUMMARY_NAME = "phase.json";
export const RUN_SUMMARY_NAME = "run.json";
export const REPORT_NAME = "report.html";

/** How a phase's trainLoop went in this process. */
export interface PhaseRun {
  result: TrainLoopResult;
  /** Wall-clock seconds of training. */
  seconds: number;
  /** Input tokens of the micro-batches trained on in this process. */
  tokensHere: number;
  finalEvalLoss?: number;
  resumedFromStep?: number;
}

/** What a phase's data preparation reports. */
export type PhaseDataReport = Pick<SftPhaseSummary, "selection" | "trainSamples" | "evalSamples" | "droppedNoLossTokens" | "batching" | "maxSteps">;

/** A phase's summary (phase.json) from its data and its run; `finalDir` is added once the phase is saved. */
export function phaseSummary(name: string, dir: string, data: PhaseDataReport, run: PhaseRun): SftPhaseSummary {
  const history = run.result.logHistory;
  const lastLoss = history.findLast((r) => typeof r.loss === "number");
  const lastTokens = history.findLast((r) => typeof r.num_tokens === "number");
  return {
    name,
    selection: data.selection,
    trainSamples: data.trainSamples,
    evalSamples: data.evalSamples,
    droppedNoLossTokens: data.droppedNoLossTokens,
    batching: data.batching,
    steps: run.result.globalStep,
    maxSteps: data.maxSteps,
    tokens: (lastTokens?.num_tokens as number | undefined) ?? run.tokensHere,
    ...(lastLoss ? { finalTrainLoss: lastLoss.loss as number } : {}),
    ...(run.finalEvalLoss === undefined ? {} : { finalEvalLoss: run.finalEvalLoss }),
    tokensPerSecond: run.seconds > 0 ? run.tokensHere / run.seconds : 0,
    seconds: run.seconds,
    ...(run.resumedFromStep === undefined ? {} : { resumedFromStep: run.resumedFromStep }),
    dir,
    skippedSteps: run.result.skippedSteps,
  };
}
