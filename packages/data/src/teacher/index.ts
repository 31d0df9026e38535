export {
  backoffDelay,
  type ChatChoice,
  type ChatClientOptions,
  type ChatRequest,
  type ChatResponse,
  type ChatUsage,
  chatCacheKey,
  OpenAIChatClient,
  type RetryInfo,
  TeacherRequestError,
} from "./chatClient.js";
export {
  type BackoffConfig,
  DEFAULT_BACKOFF,
  DEFAULT_TEACHER_CONFIG,
  R1_PROMPT_TEMPLATE,
  resolveTeacherConfig,
  type TeacherConfig,
  type TeacherOptions,
} from "./config.js";
export { DiskCache } from "./diskCache.js";
export { type TeacherParams, type TeacherStageHooks, teacherStage } from "./teacherStage.js";
