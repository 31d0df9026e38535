export { sharedDataDir, sharedDataPath } from "./sharedData.js";
export { startOpenAIServer } from "./openaiServer.js";
export type { OpenAIServer, OpenAIServerOptions, FaultKind, ChatHandler } from "./openaiServer.js";
