/**
 * Raised by the shared training machinery (optimizer, checkpoints, guard, loop) for problems a user must act on.
 * A separate class because trainers and CLIs tell an aborted run (`instanceof TrainingError`) apart from a crash.
 */
export class TrainingError extends Error {
  override readonly name = "TrainingError";
  constructor(
    readonly component: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`[infialign/train-sft] ${component}: ${message}`, options);
  }
}
