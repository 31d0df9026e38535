// Learning-rate schedules with the formulas of Hugging Face transformers `optimization.py` (`get_scheduler`): a
// multiplier lr_lambda(step) of the peak rate, where `step` counts the optimizer updates already applied (0 for the
// first update, as torch's LambdaLR), so with warmup the first update has learning rate 0, as in HF.
import { TrainingError } from "./errors.js";

/** HF `SchedulerType` names implemented here. */
export const SCHEDULE_TYPES = ["constant", "constant_with_warmup", "linear", "cosine"] as const;
export type ScheduleType = (typeof SCHEDULE_TYPES)[number];

export interface ScheduleOptions {
  /** HF `lr_scheduler_type`. @default "linear" (HF TrainingArguments default) */
  type?: ScheduleType;
  /** Peak learning rate (HF `learning_rate`). @default 2e-5 (TRL SFTConfig) */
  learningRate?: number;
  /** Optimizer updates in the whole run (HF `max_steps`, or epochs × updates per epoch). */
  totalSteps: number;
  /** Warmup updates; when > 0 it wins over `warmupRatio` (HF `get_warmup_steps`). @default 0 */
  warmupSteps?: number;
  /** Warmup as a fraction of `totalSteps`, rounded up: ceil(totalSteps · ratio). @default 0 */
  warmupRatio?: number;
  /** Cosine waves over the decay phase; 0.5 decays from the peak to 0 once (HF `num_cycles`). @default 0.5 */
  numCycles?: number;
}

/** A resolved schedule: `at(step)` is the learning rate of the update that follows `step` earlier updates. */
export interface LrSchedule {
  readonly type: ScheduleType;
  readonly learningRate: number;
  readonly totalSteps: number;
  readonly warmupSteps: number;
  /** Multiplier of the peak rate (HF `lr_lambda`); past `totalSteps` HF's cosine rises again, as in HF. */
  factor(step: number): number;
  /** learningRate × factor(step). */
  at(step: number): number;
}

/** HF `TrainingArguments.get_warmup_steps`: explicit steps when > 0, else ceil(total · ratio). */
export function warmupStepsFor(totalSteps: number, warmupSteps = 0, warmupRatio = 0): number {
  return warmupSteps > 0 ? warmupSteps : Math.ceil(totalSteps * warmupRatio);
}

export function createSchedule(options: ScheduleOptions): LrSchedule {
  const type = options.type ?? "linear";
  const learningRate = options.learningRate ?? 2e-5;
  const totalSteps = options.totalSteps;
  const numCycles = options.numCycles ?? 0.5;
  const bad: string[] = [];
  if (!SCHEDULE_TYPES.includes(type)) bad.push(`type="${type}" (expected one of ${SCHEDULE_TYPES.join(", ")})`);
  if (!(learningRate >= 0)) bad.push(`learningRate=${learningRate} (expected ≥ 0)`);
  if (!Number.isInteger(totalSteps) || totalSteps < 0) bad.push(`totalSteps=${totalSteps} (expected an integer ≥ 0)`);
  if (!Number.isInteger(options.warmupSteps ?? 0) || (options.warmupSteps ?? 0) < 0) bad.push(`warmupSteps=${options.warmupSteps} (expected an integer ≥ 0)`);
  const ratio = options.warmupRatio ?? 0;
  if (!(ratio >= 0 && ratio <= 1)) bad.push(`warmupRatio=${ratio} (expected 0 ≤ ratio ≤ 1)`);
  if (!(numCycles >= 0)) bad.push(`numCycles=${numCycles} (expected ≥ 0)`);
  if (bad.length > 0) throw new TrainingError("schedule", `invalid options: ${bad.join("; ")}.`);
  const warmup = type === "constant" ? 0 : warmupStepsFor(totalSteps, options.warmupSteps, ratio);

  const factor = (step: number): number => {
    if (type === "constant") return 1;
    if (step < warmup) return step / Math.max(1, warmup);
    if (type === "constant_with_warmup") return 1;
    if (type === "linear") return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmup));
    const progress = (step - warmup) / Math.max(1, totalSteps - warmup);
    return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * numCycles * 2 * progress)));
  };
  return { type, learningRate, totalSteps, warmupSteps: warmup, factor, at: (step) => learningRate * factor(step) };
}
