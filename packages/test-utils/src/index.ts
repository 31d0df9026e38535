export type { BenchChildResult } from "./bench.js";
export { runBenchChild } from "./bench.js";
export type { ChatHandler, EmbeddingHandler, EmbeddingRequestBody, FaultKind, OpenAIServer, OpenAIServerOptions } from "./openaiServer.js";
export { fakeEmbedding, startOpenAIServer } from "./openaiServer.js";
export type { CliMain } from "./runCli.js";
export { runCli } from "./runCli.js";
export { sharedDataDir, sharedDataPath } from "./sharedData.js";
