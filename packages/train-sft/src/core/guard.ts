// Non-finite loss / gradient guard: fp overflow or a bad batch should cost one step, not the run; a streak of them
// means the run has diverged, and it stops with a checkpoint saved and a message saying so.
import { TrainingError } from "./errors.js";

export interface GuardObservation {
  step: number;
  loss: number;
  gradNorm: number;
}

export interface NonFiniteGuardOptions {
  /** Non-finite steps in a row that abort the run (the earlier ones are skipped with a warning). @default 3 */
  maxConsecutive?: number;
  /** Receives one warning per skipped step. @default console.warn */
  warn?: (message: string) => void;
  /**
   * Called once before aborting (the trainer saves a checkpoint here); returns the checkpoint directory, named in the
   * error. @default none (the error then says no checkpoint was saved)
   */
  onAbort?: (observation: GuardObservation) => Promise<string | undefined> | string | undefined;
}

/** Decides per step whether an update may be applied. */
export class NonFiniteGuard {
  readonly maxConsecutive: number;
  private consecutive = 0;
  private total = 0;
  private readonly warn: (message: string) => void;

  constructor(private readonly options: NonFiniteGuardOptions = {}) {
    this.maxConsecutive = options.maxConsecutive ?? 3;
    if (!Number.isInteger(this.maxConsecutive) || this.maxConsecutive < 1) {
      throw new TrainingError("guard", `maxConsecutive=${options.maxConsecutive} (expected an integer ≥ 1).`);
    }
    this.warn = options.warn ?? ((message) => console.warn(message));
  }

  /** Steps skipped in a row so far. */
  get consecutiveSkips(): number {
    return this.consecutive;
  }

  /** Steps skipped in the whole run. */
  get totalSkips(): number {
    return this.total;
  }

  /**
   * `true`: apply the update. `false`: skip it (a warning was emitted; do not step the optimizer). Throws a
   * TrainingError, after calling `onAbort`, when this is the `maxConsecutive`-th non-finite step in a row.
   */
  async check(observation: GuardObservation): Promise<boolean> {
    if (Number.isFinite(observation.loss) && Number.isFinite(observation.gradNorm)) {
      this.consecutive = 0;
      return true;
    }
    this.consecutive += 1;
    this.total += 1;
    const what = `loss=${observation.loss}, grad_norm=${observation.gradNorm}`;
    if (this.consecutive < this.maxConsecutive) {
      this.warn(`[infialign/train-sft] guard: step ${observation.step}: non-finite ${what}; update skipped (${this.consecutive} in a row, aborting at ${this.maxConsecutive}).`);
      return false;
    }
    let saved: string | undefined;
    let saveError: unknown;
    try {
      saved = (await this.options.onAbort?.(observation)) ?? undefined;
    } catch (error) {
      saveError = error;
    }
    const checkpoint = saved !== undefined
      ? `The last good state was saved to ${saved}.`
      : saveError !== undefined
        ? `Saving a checkpoint failed too (${(saveError as Error).message}).`
        : "No checkpoint was saved.";
    throw new TrainingError(
      "guard",
      `step ${observation.step}: ${this.consecutive} consecutive steps with a non-finite loss or gradient (last: ${what}; limit maxConsecutive=${this.maxConsecutive}); the run has diverged. ${checkpoint} Lower the learning rate, raise warmup or check the data, then resume.`,
      saveError === undefined ? undefined : { cause: saveError },
    );
  }
}
