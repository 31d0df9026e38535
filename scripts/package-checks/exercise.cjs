// Runs the published packages, as installed from their tarballs, on the code paths that touch dependencies `require()`
// cannot load as such (ESM-only p-limit and hyparquet, bundled into the CJS build) and on those that find files next to
// the package. `node exercise.cjs cjs` loads every package with require(), `node exercise.cjs esm` with import().
// Run by scripts/check-packages.mjs inside its temporary npm project, with the oldest Node version the packages claim.
"use strict";
const assert = require("node:assert/strict");
const { once } = require("node:events");
const { mkdtemp, rm, writeFile } = require("node:fs/promises");
const { createServer } = require("node:http");
const { tmpdir } = require("node:os");
const { join } = require("node:path");

const mode = process.argv[2];
if (mode !== "cjs" && mode !== "esm") throw new Error("usage: node exercise.cjs cjs|esm");
const load = (name) => (mode === "cjs" ? Promise.resolve(require(name)) : import(name));

/** A small OpenAI-compatible server: chat answers are a function of the prompt and seed, embeddings of the text. */
async function startServer() {
  const requests = { chat: 0, embeddings: 0 };
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      const json = JSON.parse(body || "{}");
      res.setHeader("content-type", "application/json");
      if (req.url.endsWith("/chat/completions")) {
        requests.chat++;
        const prompt = json.messages.at(-1).content;
        const seed = json.seed ?? 0;
        let content = `echo: ${prompt}`;
        // eval: "Problem i: what is i + i?" answered right for even seeds.
        const problem = /Problem (\d+):/.exec(prompt);
        if (problem) content = `The answer is \\boxed{${2 * Number(problem[1]) + (seed % 2)}}.`;
        // train-dpo: half of the samples right, half wrong.
        if (prompt.startsWith("What is 2 + 3?")) content = seed % 2 === 0 ? "2 + 3 = 5, so \\boxed{5}" : "I think it is \\boxed{6}";
        res.end(JSON.stringify({ id: "x", object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }], usage: { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 } }));
      } else if (req.url.endsWith("/models")) {
        res.end(JSON.stringify({ object: "list", data: [{ id: "toy-model", object: "model", max_model_len: 4096 }] }));
      } else if (req.url.endsWith("/embeddings")) {
        requests.embeddings++;
        const data = json.input.map((text, index) => ({ object: "embedding", index, embedding: [text.length, 1, 0, 0] }));
        res.end(JSON.stringify({ object: "list", data, model: json.model, usage: { prompt_tokens: 1, total_tokens: 1 } }));
      } else {
        res.statusCode = 404;
        res.end("{}");
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { url: `http://127.0.0.1:${server.address().port}/v1`, requests, close: () => new Promise((r) => server.close(r)) };
}

const quiet = { info() {}, warn() {}, debug() {}, error() {} };

const checks = {
  async "@infialign/data: OpenAIChatClient (p-limit, undici) makes a request"({ server }) {
    const { OpenAIChatClient } = await load("@infialign/data");
    const client = new OpenAIChatClient({ baseURL: server.url, model: "m", concurrency: 2 });
    try {
      const replies = await Promise.all([1, 2, 3].map((i) => client.chat({ messages: [{ role: "user", content: `hello ${i}` }] })));
      assert.deepEqual(
        replies.map((r) => r.choices[0].content),
        ["echo: hello 1", "echo: hello 2", "echo: hello 3"],
      );
    } finally {
      await client.close();
    }
  },

  async "@infialign/data: writeParquet and readParquet (hyparquet, hyparquet-writer, hyparquet-compressors)"({ dir }) {
    const { readParquet, writeParquet } = await load("@infialign/data");
    const path = join(dir, "rows.parquet");
    const rows = Array.from({ length: 50 }, (_, i) => ({ id: `r${i}`, prompt: `question ${i}`, score: i / 2 }));
    await writeParquet(path, rows);
    const back = [];
    for await (const record of readParquet(path)) back.push(record);
    assert.equal(back.length, rows.length);
    assert.deepEqual(back[7].ok && { ...back[7].value }, rows[7]);
  },

  async "@infialign/verify: runTests and createSandboxPool (p-limit)"() {
    const { createSandboxPool, runTests } = await load("@infialign/verify");
    // A pool that answers without a sandbox: this checks the package's own code around it, the same everywhere (the
    // sandbox has its own tests).
    const fakePool = {
      active: 0,
      pending: 0,
      run: async (program, opts) => ({ verdict: "ok", exitCode: 0, signal: null, stdout: `${Number(opts.stdin) * 2}\n`, stderr: "", wallMs: 1, truncated: false, sandboxed: false }),
    };
    const tests = ["1", "2", "3"].map((input) => ({ input, output: String(Number(input) * 2), testtype: "stdin" }));
    const result = await runTests("print(int(input()) * 2)", tests, { pool: fakePool, concurrency: 2 });
    assert.equal(result.verdict, "passed");
    assert.equal(result.passed, 3);
    const pool = createSandboxPool({ concurrency: 2 });
    assert.deepEqual([pool.active, pool.pending], [0, 0]);
  },

  async "@infialign/train-dpo: pairConstructionStage with openAISampler (p-limit in both)"({ server, dir }) {
    const { makeSample, OpenAIChatClient, resolveInputs, runPipeline } = await load("@infialign/data");
    const { openAISampler, pairConstructionStage } = await load("@infialign/train-dpo");
    const samples = [makeSample({ source: "check", prompt: "What is 2 + 3?", gold: "5", response: "2 + 3 = 5, so \\boxed{5}" })];
    const input = join(dir, "samples.jsonl");
    await writeFile(input, `${samples.map((s) => JSON.stringify(s)).join("\n")}\n`);
    const client = new OpenAIChatClient({ baseURL: server.url, model: "sft", concurrency: 2, sleep: async () => {} });
    try {
      const stage = pairConstructionStage({ k: 4, passRateBand: [0.25, 0.75], concurrency: 2 }, { sampler: openAISampler({ client }) });
      const result = await runPipeline({ name: "pairs", runsDir: join(dir, "runs"), source: { files: await resolveInputs(input), decode: "samples" }, stages: [stage], logger: quiet, progress: false });
      const { counts } = result.stages[0].manifest;
      assert.deepEqual([counts.in, counts.out, counts.rejected], [1, 1, 0]);
    } finally {
      await client.close();
    }
  },

  async "@infialign/eval: runEvaluation with endpointRunner (p-limit in both)"({ server, dir }) {
    const { customMathBenchmark, endpointRunner, runEvaluation } = await load("@infialign/eval");
    const spec = customMathBenchmark({ name: "toy", title: "Toy", items: [0, 1, 2].map((i) => ({ id: `p${i}`, problem: `Problem ${i}: what is ${i} + ${i}?`, answer: String(2 * i) })) });
    const protocol = { temperature: 0.6, topP: 0.95, maxTokens: 64, samples: { default: 2 }, k: [1, 2], seed: 0 };
    const runner = endpointRunner({ baseUrl: server.url, model: "toy-model", sleep: async () => {} });
    const result = await runEvaluation({ benchmarks: [{ spec, items: await spec.load() }], protocol, runner, outDir: join(dir, "eval"), concurrency: 3, progress: false });
    assert.equal(result.newSamples, 6);
  },

  async "@infialign/sampling: OpenAIEmbedder (p-limit, undici)"({ server }) {
    const { OpenAIEmbedder } = await load("@infialign/sampling");
    const embedder = new OpenAIEmbedder({ baseURL: server.url, model: "e", batchSize: 2, concurrency: 2 });
    try {
      const vectors = await embedder.embed(["a", "bb", "ccc", "dddd", "eeeee"]);
      assert.equal(vectors.length % 5, 0);
    } finally {
      await embedder.close();
    }
  },

  async "@infialign/decontam: shipped benchmarks (files next to the package) and MinHasher (xxhash-wasm)"() {
    const { loadShippedBenchmarks, MinHasher, NgramIndex } = await load("@infialign/decontam");
    const items = await loadShippedBenchmarks(["aime24"]);
    assert.ok(items.length > 0);
    const hasher = await MinHasher.create();
    assert.equal(hasher.signature("the quick brown fox jumps over the lazy dog").length > 0, true);
    assert.equal(typeof NgramIndex, "function");
  },

  async "@infialign/kernels: vector kernels"() {
    const { cosineTopK, l2NormalizeRows } = await load("@infialign/kernels");
    const rows = l2NormalizeRows(new Float32Array([1, 0, 0, 1, 1, 1]), 2);
    assert.equal(rows.length, 6);
    assert.equal(typeof cosineTopK, "function");
  },

  async "@infialign/kernels/tfjs: wasm backend and the gradient bundle"() {
    const { registerTfjsGradients, selectBackend } = await load("@infialign/kernels/tfjs");
    const info = await selectBackend({ prefer: "wasm" });
    assert.equal(info.name, "wasm");
    registerTfjsGradients();
  },

  async "@infialign/model: ByteTokenizer"() {
    const { ByteTokenizer } = await load("@infialign/model");
    const tokenizer = new ByteTokenizer();
    assert.equal(tokenizer.decode(tokenizer.encode("héllo")), "héllo");
  },

  async "@infialign/train-sft: learning-rate schedule"() {
    const { createSchedule } = await load("@infialign/train-sft");
    const schedule = createSchedule({ type: "cosine", learningRate: 1e-3, totalSteps: 10, warmupSteps: 2 });
    assert.equal(schedule.at(2), 1e-3);
  },
};

async function main() {
  const only = process.argv[3];
  const server = await startServer();
  const dir = await mkdtemp(join(tmpdir(), `infialign-exercise-${mode}-`));
  let failed = 0;
  try {
    for (const [name, check] of Object.entries(checks)) {
      if (only && !name.includes(only)) continue;
      const started = Date.now();
      try {
        await check({ server, dir });
        console.log(`  ok   ${mode} ${name} (${Date.now() - started} ms)`);
      } catch (error) {
        failed++;
        console.log(`  FAIL ${mode} ${name}\n${String(error && error.stack ? error.stack : error).replace(/^/gm, "       ")}`);
      }
    }
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
  if (failed > 0) {
    console.log(`${failed} check(s) failed under Node ${process.version} (${mode})`);
    process.exitCode = 1;
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
