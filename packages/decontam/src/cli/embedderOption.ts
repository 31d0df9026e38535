import type { TextEmbedder } from "../embedding/embeddingIndex.js";

/**
 * Builds an embedder from a CLI spec: `hashing`, `hashing:<dim>`, `onnx:<model dir>`, `openai:<base URL>#<model>`
 * (the format of `@infialign/sampling`'s `createEmbedder`). `fitTexts` are the benchmark texts (the hashing embedder
 * fits its IDF on them).
 */
export type EmbedderFactory = (spec: string, options: { fitTexts: readonly string[] }) => Promise<TextEmbedder>;

// A variable specifier: @infialign/sampling depends on this package, so it is an optional runtime backend, not a dependency.
const SAMPLING = "@infialign/sampling";

/** The default factory: `createEmbedder` of `@infialign/sampling`, loaded when `--embedder` is used. */
export const samplingEmbedderFactory: EmbedderFactory = async (spec, { fitTexts }) => {
  let mod: { createEmbedder?: (spec: string, options: { fitTexts: Iterable<string> }) => Promise<TextEmbedder> };
  try {
    mod = await import(SAMPLING);
  } catch (e) {
    throw new Error(`[infialign/decontam] cli: --embedder: install ${SAMPLING} to use --embedder (its createEmbedder builds "${spec}")`, { cause: e });
  }
  if (typeof mod.createEmbedder !== "function") throw new Error(`[infialign/decontam] cli: --embedder: ${SAMPLING} has no createEmbedder; update it`);
  return mod.createEmbedder(spec, { fitTexts });
};
