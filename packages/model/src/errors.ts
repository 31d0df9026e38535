/** Every error @infialign/model throws on bad input: names the component, what was wrong and what was expected. */
export class ModelError extends Error {
  override readonly name = "ModelError";
  constructor(
    readonly component: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`[infialign/model] ${component}: ${message}`, options);
  }
}
