// The --local-demo server: a tiny random Qwen2 with the byte tokenizer behind infialign-serve, so the example runs with
// no model and no network (its answers are noise; it exercises the same endpoint path as a real server).
import { selectBackend } from "@infialign/kernels/tfjs";
import { ByteTokenizer, parseQwen2Config, Qwen2Model, startServer } from "@infialign/model";

export async function startTinyServer(): Promise<{ url: string; close(): Promise<void> }> {
  await selectBackend({ prefer: ["wasm", "cpu"] });
  const tokenizer = new ByteTokenizer();
  const config = parseQwen2Config({ vocab_size: tokenizer.vocabSize, hidden_size: 64, intermediate_size: 172, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 4096, tie_word_embeddings: true });
  const model = Qwen2Model.init(config, { seed: 0 });
  const server = await startServer({ model, tokenizer, modelId: "tiny-random", port: 0 });
  return {
    url: server.url,
    close: async () => {
      await server.close();
      model.dispose();
    },
  };
}
