/** OpenAI's error `type` for each status this server sends (`invalid_request_error` for every client error but 429). */
const ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  404: "invalid_request_error",
  405: "invalid_request_error",
  413: "invalid_request_error",
  429: "rate_limit_error",
  499: "invalid_request_error",
  500: "server_error",
  503: "server_error",
};

/** The body of every error response: `{"error": {"message", "type", "param", "code"}}`, as OpenAI sends it. */
export interface ApiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** An error answered with an HTTP status and OpenAI's error body; anything else thrown by a handler becomes a 500. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toBody(): ApiErrorBody {
    return { error: { message: this.message, type: ERROR_TYPES[this.status] ?? "invalid_request_error", param: this.param, code: this.code } };
  }
}
