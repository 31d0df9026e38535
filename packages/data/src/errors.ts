/**
 * Error raised for problems a user can fix (bad path, bad option, unreadable file).
 * Messages follow "[infialign/data] component: what happened. How to fix it."
 */
export class DataError extends Error {
  override readonly name = "DataError";
  constructor(
    readonly component: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`[infialign/data] ${component}: ${message}`, options);
  }
}
