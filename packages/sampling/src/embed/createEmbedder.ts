import { CachedEmbedder } from "./cachedEmbedder.js";
import { type Embedder, embedError } from "./embedder.js";
import { HashingEmbedder, type HashingEmbedderConfig } from "./hashingEmbedder.js";
import { OpenAIEmbedder, type OpenAIEmbedderOptions } from "./openaiEmbedder.js";
import { TransformersEmbedder, type TransformersEmbedderOptions } from "./transformersEmbedder.js";

export interface CreateEmbedderOptions {
  /** Wrap the embedder in a {@link CachedEmbedder} rooted here. @default no cache */
  cacheDir?: string;
  /** Extra HashingEmbedder settings (`hashing:<dim>` sets `dim`). */
  hashing?: Partial<HashingEmbedderConfig>;
  /** Texts to fit the HashingEmbedder's IDF on. @default unfitted (IDF 1) */
  fitTexts?: Iterable<string>;
  /** Extra TransformersEmbedder settings. */
  onnx?: TransformersEmbedderOptions;
  /** Extra OpenAIEmbedder settings (`baseURL` and `model` come from the spec). */
  openai?: Partial<Omit<OpenAIEmbedderOptions, "baseURL" | "model">>;
}

const USAGE = 'expected "hashing", "hashing:<dim>", "onnx:<model dir>" or "openai:<base URL>#<model>"';

/**
 * Builds an embedder from a CLI-style spec: `hashing`, `hashing:512`,
 * `onnx:/path/to/model`, `openai:http://host:port/v1#model-name`.
 */
export async function createEmbedder(spec: string, options: CreateEmbedderOptions = {}): Promise<Embedder> {
  const colon = spec.indexOf(":");
  const kind = colon === -1 ? spec : spec.slice(0, colon);
  const rest = colon === -1 ? "" : spec.slice(colon + 1);
  let embedder: Embedder;
  switch (kind) {
    case "hashing": {
      if (rest !== "" && !/^[1-9]\d*$/.test(rest)) throw embedError("embedder", `bad dim "${rest}" in spec "${spec}"; ${USAGE}`);
      const hashing = new HashingEmbedder({ ...options.hashing, ...(rest ? { dim: Number(rest) } : {}) });
      if (options.fitTexts) hashing.fit(options.fitTexts);
      embedder = hashing;
      break;
    }
    case "onnx":
      if (!rest) throw embedError("embedder", `spec "${spec}" names no model folder; ${USAGE}`);
      embedder = await TransformersEmbedder.load(rest, options.onnx);
      break;
    case "openai": {
      const hash = rest.lastIndexOf("#");
      const baseURL = hash === -1 ? "" : rest.slice(0, hash);
      const model = hash === -1 ? "" : rest.slice(hash + 1);
      if (!/^https?:\/\//.test(baseURL) || !model) throw embedError("embedder", `spec "${spec}" needs a base URL and a model; ${USAGE}`);
      embedder = new OpenAIEmbedder({ ...options.openai, baseURL, model });
      break;
    }
    default:
      throw embedError("embedder", `unknown embedder "${kind}" in spec "${spec}"; ${USAGE}`);
  }
  return options.cacheDir ? new CachedEmbedder(embedder, { dir: options.cacheDir }) : embedder;
}
