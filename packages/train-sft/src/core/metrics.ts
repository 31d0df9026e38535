// Per-step training metrics as JSONL with TRL's names, and the progress bar.
import { existsSync } from "node:fs";
import { type FileHandle, mkdir, open, readFile, rename } from "node:fs/promises";
import { dirname } from "node:path";
import { createProgress, type ProgressReporter } from "@infialign/data";
import { TrainingError } from "./errors.js";

/**
 * One logged step. Names are TRL's (`trl/trainer/sft_trainer.py`, HF Trainer `log`), so dashboards transfer:
 * `loss` (mean over the steps since the last log), `learning_rate`, `grad_norm` (pre-clip), `mean_token_accuracy`,
 * `num_tokens` (cumulative input tokens, padding excluded), `entropy`; evaluation records use the `eval_` prefix
 * (`eval_loss`, `eval_mean_token_accuracy`, `eval_entropy`, and `eval_num_tokens` = the training tokens seen so far, as
 * TRL logs it). DPO adds `rewards/chosen` etc. Not in TRL: `tokens_per_second`.
 */
export interface MetricsRecord {
  /** Global optimizer step the record belongs to. */
  step: number;
  /** Fractional epoch (HF `epoch`). */
  epoch?: number;
  loss?: number;
  learning_rate?: number;
  grad_norm?: number;
  mean_token_accuracy?: number;
  num_tokens?: number;
  entropy?: number;
  tokens_per_second?: number;
  [metric: string]: number | string | null | undefined;
}

export interface MetricsLoggerOptions {
  /**
   * Resume a run whose checkpoint was taken after this step: records with a larger step (logged after that
   * checkpoint and about to be logged again) and a torn last line are dropped. Undefined starts a new file.
   * @default undefined (truncate)
   */
  resumeFromStep?: number;
}

/** Append-only JSONL metrics file: one line per record, fsync'd, so a crash loses at most the line being written. */
export class MetricsLogger {
  private constructor(
    readonly path: string,
    private handle: FileHandle | undefined,
  ) {}

  static async open(path: string, options: MetricsLoggerOptions = {}): Promise<MetricsLogger> {
    await mkdir(dirname(path), { recursive: true });
    if (options.resumeFromStep === undefined || !existsSync(path)) return new MetricsLogger(path, await open(path, "w"));
    const kept = (await readMetrics(path, { tolerateTornLastLine: true })).filter((r) => r.step <= options.resumeFromStep!);
    const temp = `${path}.tmp`;
    const rewrite = await open(temp, "w");
    try {
      await rewrite.writeFile(kept.map((r) => `${JSON.stringify(r)}\n`).join(""));
      await rewrite.sync();
    } finally {
      await rewrite.close();
    }
    await rename(temp, path);
    return new MetricsLogger(path, await open(path, "a"));
  }

  /** Appends one record (undefined fields are left out) and flushes it to disk. */
  async log(record: MetricsRecord): Promise<void> {
    if (this.handle === undefined) throw new TrainingError("metrics", `${this.path}: log() after close().`);
    if (!Number.isInteger(record.step) || record.step < 0) throw new TrainingError("metrics", `${this.path}: record.step=${record.step} (expected an integer ≥ 0).`);
    await this.handle.appendFile(`${JSON.stringify(record)}\n`);
    await this.handle.sync();
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }
}

/** Reads a metrics JSONL file. A torn last line (crash mid-write) is an error unless tolerated. */
export async function readMetrics(path: string, options: { tolerateTornLastLine?: boolean } = {}): Promise<MetricsRecord[]> {
  const lines = (await readFile(path, "utf8")).split("\n");
  const records: MetricsRecord[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === "") continue;
    const last = lines.slice(i + 1).every((l) => l.trim() === "");
    try {
      const record = JSON.parse(line) as MetricsRecord;
      if (typeof record.step !== "number") throw new Error('no numeric "step"');
      records.push(record);
    } catch (cause) {
      if (last && options.tolerateTornLastLine) break;
      throw new TrainingError("metrics", `${path} line ${i + 1} is not a metrics record (${(cause as Error).message}); expected a JSON object with "step".`, { cause });
    }
  }
  return records;
}

/** Milliseconds from an arbitrary origin; injected so tests need no sleeping. */
export type Clock = () => number;
export const systemClock: Clock = () => performance.now();

/** Tokens per second between successive `sample()` calls. */
export class ThroughputMeter {
  private lastTime: number;
  private tokens = 0;

  constructor(private readonly clock: Clock = systemClock) {
    this.lastTime = clock();
  }

  add(tokens: number): void {
    this.tokens += tokens;
  }

  /** Rate since the previous sample (0 when no time passed), then starts a new window. */
  sample(): number {
    const now = this.clock();
    const seconds = (now - this.lastTime) / 1000;
    const rate = seconds > 0 ? this.tokens / seconds : 0;
    this.lastTime = now;
    this.tokens = 0;
    return rate;
  }
}

/** Progress of a training run: steps drive the bar and the ETA, tokens drive the displayed rate. */
export interface TrainProgress {
  start(totalSteps: number, label: string): void;
  update(step: number, tokensSeen: number): void;
  stop(): void;
}

/**
 * A progress bar over optimizer steps (percentage and ETA by steps) that shows tokens and tokens/s, built on
 * `createProgress` of @infialign/data: silent without a TTY or under CI=true unless `enabled` says otherwise.
 * Tokens rather than steps/s because a step takes seconds and createProgress rounds rates to integers.
 */
export function createTrainProgress(options: { enabled?: boolean } = {}): TrainProgress {
  const bar: ProgressReporter = createProgress(options.enabled === undefined ? { unit: "tok" } : { unit: "tok", enabled: options.enabled });
  return {
    start: (totalSteps, label) => bar.start(totalSteps, label),
    update: (step, tokensSeen) => bar.update(step, tokensSeen),
    stop: () => bar.stop(),
  };
}
