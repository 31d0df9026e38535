import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { l2NormalizeRows } from "@infialign/kernels";
import { type Embedder, embedError } from "./embedder.js";

export type TransformersDtype = "fp32" | "fp16" | "q8" | "int8" | "uint8" | "q4" | "bnb4" | "q4f16";

export interface TransformersEmbedderOptions {
  /** How token vectors become one text vector. @default "mean" */
  pooling?: "mean" | "cls";
  /** L2-normalize inside the model call (rows are normalized again either way). @default true */
  normalize?: boolean;
  /** Texts per forward pass. @default 32 */
  batchSize?: number;
  /** Weights to load; picks the file under `onnx/` (fp32 → model.onnx, q8 → model_quantized.onnx, …). @default "fp32" */
  dtype?: TransformersDtype;
}

/** File under `onnx/` that transformers.js loads for a dtype. */
const ONNX_FILE: Record<TransformersDtype, string> = {
  fp32: "model.onnx",
  fp16: "model_fp16.onnx",
  q8: "model_quantized.onnx",
  int8: "model_int8.onnx",
  uint8: "model_uint8.onnx",
  q4: "model_q4.onnx",
  bnb4: "model_bnb4.onnx",
  q4f16: "model_q4f16.onnx",
};

/** The slice of `@huggingface/transformers` used here (typed locally: the package is an optional peer). */
interface TransformersModule {
  env: { allowRemoteModels: boolean; allowLocalModels: boolean; localModelPath: string };
  pipeline(task: "feature-extraction", model: string, options: { dtype: string; local_files_only?: boolean }): Promise<FeatureExtractor>;
}
type FeatureExtractor = (texts: string[], options: { pooling: "mean" | "cls"; normalize: boolean }) => Promise<{ data: ArrayLike<number>; dims: number[] }>;

const PACKAGE = "@huggingface/transformers";

/** Loads the optional peer dependency, or says how to install it. */
async function importTransformers(): Promise<TransformersModule> {
  try {
    // A variable specifier keeps bundlers and tsc from resolving the optional peer at build time.
    const name: string = PACKAGE;
    return (await import(name)) as TransformersModule;
  } catch (error) {
    throw embedError("embedder", `install ${PACKAGE} to use the onnx embedder`, error);
  }
}

/**
 * Sentence embeddings from a local ONNX model (e.g. a BGE/GTE/E5 export) through
 * transformers.js, offline only: remote downloads are turned off and the model folder must
 * hold `config.json`, `tokenizer.json` and `onnx/<file for dtype>`.
 */
export class TransformersEmbedder implements Embedder {
  private constructor(
    readonly id: string,
    readonly dim: number,
    private readonly extractor: FeatureExtractor,
    private readonly options: Required<TransformersEmbedderOptions>,
  ) {}

  static async load(modelDir: string, options: TransformersEmbedderOptions = {}): Promise<TransformersEmbedder> {
    const resolved: Required<TransformersEmbedderOptions> = { pooling: options.pooling ?? "mean", normalize: options.normalize ?? true, batchSize: options.batchSize ?? 32, dtype: options.dtype ?? "fp32" };
    if (!(Number.isInteger(resolved.batchSize) && resolved.batchSize > 0)) throw embedError("onnx-embedder", `batchSize must be a positive integer, got ${resolved.batchSize}`);
    const dir = resolve(modelDir);
    const expected = ["config.json", "tokenizer.json", join("onnx", ONNX_FILE[resolved.dtype])];
    const missing = existsSync(dir) ? expected.filter((f) => !existsSync(join(dir, f))) : expected;
    if (missing.length > 0) {
      throw embedError(
        "onnx-embedder",
        `model folder "${dir}" ${existsSync(dir) ? `lacks ${missing.join(", ")}` : "does not exist"}; expected ${expected.join(", ")} (dtype "${resolved.dtype}"). Export one with optimum (optimum-cli export onnx) or pick another dtype.`,
      );
    }
    const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as { hidden_size?: number; d_model?: number; _name_or_path?: string };
    const transformers = await importTransformers();
    transformers.env.allowRemoteModels = false;
    transformers.env.allowLocalModels = true;
    transformers.env.localModelPath = `${dirname(dir)}/`;
    const extractor = await transformers.pipeline("feature-extraction", basename(dir), { dtype: resolved.dtype, local_files_only: true });
    // Probe once: the config's hidden size is not the output size for every architecture.
    const probe = await extractor(["dimension probe"], { pooling: resolved.pooling, normalize: resolved.normalize });
    const dim = probe.dims.at(-1) ?? config.hidden_size ?? config.d_model ?? 0;
    const id = `onnx:${basename(dir)}:d${dim}:${resolved.pooling}:${resolved.dtype}${resolved.normalize ? "" : ":raw"}`;
    return new TransformersEmbedder(id, dim, extractor, resolved);
  }

  async embed(texts: readonly string[], options: { signal?: AbortSignal } = {}): Promise<Float32Array> {
    const out = new Float32Array(texts.length * this.dim);
    const todo = texts.flatMap((t, i) => (t.length > 0 ? [i] : []));
    for (let b = 0; b < todo.length; b += this.options.batchSize) {
      options.signal?.throwIfAborted();
      const batch = todo.slice(b, b + this.options.batchSize);
      const result = await this.extractor(
        batch.map((i) => texts[i] as string),
        { pooling: this.options.pooling, normalize: this.options.normalize },
      );
      batch.forEach((row, k) => {
        for (let j = 0; j < this.dim; j++) out[row * this.dim + j] = result.data[k * this.dim + j] as number;
      });
    }
    return l2NormalizeRows(out, this.dim);
  }
}
