export type { BenchChildResult } from "./bench.js";
export { runBenchChild } from "./bench.js";
export { llamaFactoryDatasetProblems, llamaFactoryEntryProblems, llamaFactoryRowProblems } from "./llamaFactory.js";
export type { ChatHandler, EmbeddingHandler, EmbeddingRequestBody, FaultKind, OpenAIServer, OpenAIServerOptions } from "./openaiServer.js";
export { fakeEmbedding, startOpenAIServer } from "./openaiServer.js";
export type { ReadmeBlock, ReadmeBlockLang, ReadmeLink, RunResult as ReadmeRunResult } from "./readme.js";
export {
  extractReadmeBlocks,
  README_BLOCK_LANGS,
  README_SECTIONS,
  REPOSITORY_BLOB_URL,
  readmeJargon,
  readmeLinkProblems,
  readmeLinks,
  readmeSectionProblems,
  runCodeFile,
  runShellBlock,
  typecheckFiles,
  writeCodeBlocks,
} from "./readme.js";
export type { RedisServer, RedisServerOptions } from "./redis.js";
export { REDIS_SERVER_INSTALL, startRedis } from "./redis.js";
export type { CliMain } from "./runCli.js";
export { runCli } from "./runCli.js";
export { runSnapshot } from "./runSnapshot.js";
export { sharedDataDir, sharedDataPath } from "./sharedData.js";
