export {
  type ChatChoice,
  type ChatClientOptions,
  type ChatRequest,
  type ChatResponse,
  type ChatUsage,
  chatCacheKey,
  isHttpUrl,
  OpenAIChatClient,
  TeacherRequestError,
} from "./chatClient.js";
export {
  type BackoffConfig,
  DEFAULT_BACKOFF,
  DEFAULT_HEALTH_CHECK,
  DEFAULT_TEACHER_CONFIG,
  type EndpointOptions,
  type EndpointSpec,
  type HealthCheckConfig,
  R1_PROMPT_TEMPLATE,
  resolveTeacherConfig,
  type TeacherConfig,
  type TeacherOptions,
} from "./config.js";
export { DiskCache } from "./diskCache.js";
export {
  EndpointFleet,
  type EndpointFleetOptions,
  type EndpointState,
  type EndpointStats,
  type FleetEndpoint,
  formatEndpointStats,
  pickEndpoint,
  type RouteView,
} from "./endpointFleet.js";
export {
  backoffDelay,
  type FinalFailure,
  type JsonRequestSettings,
  jsonHeaders,
  type PostJsonOptions,
  postJsonWithRetry,
  RequestFailure,
  type RetryInfo,
} from "./jsonRequest.js";
export { type TeacherParams, type TeacherStageHooks, teacherStage } from "./teacherStage.js";
