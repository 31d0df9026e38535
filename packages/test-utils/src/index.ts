export type { ChatHandler, EmbeddingHandler, EmbeddingRequestBody, FaultKind, OpenAIServer, OpenAIServerOptions } from "./openaiServer.js";
export { fakeEmbedding, startOpenAIServer } from "./openaiServer.js";
export { sharedDataDir, sharedDataPath } from "./sharedData.js";
export type { CliMain } from "./runCli.js";
export { runCli } from "./runCli.js";
