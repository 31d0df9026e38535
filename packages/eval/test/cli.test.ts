import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli, startOpenAIServer } from "@infialign/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getBenchmark } from "../src/benchmarks/index.js";
import { main } from "../src/cli/program.js";
import type { EvalItem, EvalRunResult } from "../src/types.js";

const cli = (argv: string[]) => runCli(main, argv, "", () => false);
const LIMIT = 3;
const SEED = 5;
const SAMPLES = 2;

/** Correct iff (position in its benchmark + seed + bias) % 3 != 0; wrong answers are boxed "0" (no gold here is 0). */
const right = (pos: number, seed: number, bias: number) => (pos + seed + bias) % 3 !== 0;

let golds: Map<string, { gold: string; pos: number; benchmark: string }>;
let root: string;
const servers: Awaited<ReturnType<typeof startOpenAIServer>>[] = [];

async function server(bias: number) {
  const s = await startOpenAIServer({
    handler: (req) => {
      const g = golds.get(req.messages.at(-1)?.content ?? "");
      if (!g) return "I do not know.";
      return `So the answer is \\boxed{${right(g.pos, req.seed ?? 0, bias) ? g.gold : "0"}}.`;
    },
  });
  servers.push(s);
  return s;
}

function expectedAvg(bias: number): number {
  let sum = 0;
  for (let pos = 0; pos < LIMIT; pos++) {
    let c = 0;
    for (let j = 0; j < SAMPLES; j++) if (right(pos, SEED + j, bias)) c++;
    sum += c / SAMPLES;
  }
  return sum / LIMIT;
}

const chats = (s: { requests: { path: string }[] }) => s.requests.filter((r) => r.path === "/v1/chat/completions").length;

const runArgs = (url: string, model: string, out: string) => ["run", "--base-url", url, "--model", model, "--benchmarks", "aime24,math500", "--limit", String(LIMIT), "--samples", String(SAMPLES), "--seed", String(SEED), "--max-tokens", "64", "--concurrency", "3", "--out", out];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "eval-cli-"));
  golds = new Map();
  for (const name of ["aime24", "math500"]) {
    const items: EvalItem[] = await getBenchmark(name).load({ limit: LIMIT, seed: SEED });
    for (const [pos, it] of items.entries()) golds.set(it.messages.at(-1)!.content, { gold: it.gold, pos, benchmark: name });
  }
});
afterAll(async () => {
  for (const s of servers) await s.close();
  rmSync(root, { recursive: true, force: true });
});

describe("infialign-eval", () => {
  it("run evaluates, resumes without re-querying; report and compare read the runs", async () => {
    const s0 = await server(0);
    const s1 = await server(1);
    const a = join(root, "a");
    const b = join(root, "b");
    const first = await cli(runArgs(s0.url, "model-a", a));
    expect(first.err).toBe("");
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/aime24\s+avg@2 /);
    expect(chats(s0)).toBe(2 * LIMIT * SAMPLES);
    const result = JSON.parse(readFileSync(join(a, "results.json"), "utf8")) as EvalRunResult;
    for (const r of result.benchmarks) expect(r.avgAtN).toBeCloseTo(expectedAvg(0), 12);
    expect(result.protocol).toMatchObject({ temperature: 0.6, topP: 0.95, maxTokens: 64, seed: SEED, k: [1, 2] });

    const again = await cli(runArgs(s0.url, "model-a", a));
    expect(again.code).toBe(0);
    expect(again.out).toContain(`0 new samples, ${2 * LIMIT * SAMPLES} resumed`);
    expect(chats(s0)).toBe(2 * LIMIT * SAMPLES);

    expect((await cli(runArgs(s1.url, "model-b", b))).code).toBe(0);

    const html = join(root, "out", "report.html");
    const md = join(root, "out", "table.md");
    const rep = await cli(["report", "--runs", `${a},${b}`, "--out", html, "--markdown", md]);
    expect(rep.err).toBe("");
    expect(rep.code).toBe(0);
    expect(existsSync(html)).toBe(true);
    const cell = (x: number) => (100 * x).toFixed(1);
    const table = readFileSync(md, "utf8");
    expect(table).toContain(`| model-a |  | ${cell(expectedAvg(0))} | ${cell(expectedAvg(0))} |  |  |  | ${cell(expectedAvg(0))} |`);
    expect(table).toContain(`| model-b |  | ${cell(expectedAvg(1))} | ${cell(expectedAvg(1))} |`);
    expect(rep.out).toContain(table);
    expect(readFileSync(html, "utf8")).toContain("Comparison: model-a → model-b");

    const cmpHtml = join(root, "cmp.html");
    const cmp = await cli(["compare", "--a", a, "--b", b, "--out", cmpHtml]);
    expect(cmp.code).toBe(0);
    const comparison = JSON.parse(cmp.out) as { benchmarks: { benchmark: string; correctToWrong: string[]; wrongToCorrect: string[] }[] };
    // Majority over 2 samples: an item is correct only when both are.
    const itemRight = (pos: number, bias: number) => right(pos, SEED, bias) && right(pos, SEED + 1, bias);
    for (const c of comparison.benchmarks) {
      const items = (await getBenchmark(c.benchmark).load({ limit: LIMIT, seed: SEED })).map((it) => it.id);
      expect(c.correctToWrong.sort()).toEqual(items.filter((_, pos) => itemRight(pos, 0) && !itemRight(pos, 1)).sort());
      expect(c.wrongToCorrect.sort()).toEqual(items.filter((_, pos) => !itemRight(pos, 0) && itemRight(pos, 1)).sort());
    }
    expect(existsSync(cmpHtml)).toBe(true);
  });

  it("run clamps max_tokens to the served context (quick preset on a 1,024-token model) with a warning on stderr", async () => {
    const s = await server(0);
    const out = join(root, "quick");
    const r = await cli(["run", "--base-url", s.url, "--model", "m", "--benchmarks", "aime24", "--limit", "1", "--preset", "quick", "--context-length", "1024", "--out", out, "--quiet"]);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^\[infialign\/eval\] endpoint-runner: max_tokens 1024 does not fit model "m"'s context of 1024 tokens/);
    const sent = s.requests.filter((q) => q.path === "/v1/chat/completions").map((q) => (q.body as { max_tokens: number }).max_tokens);
    // A 1-token request counts the prompt (the test server counts words), then the sample asks for the rest.
    expect(sent).toHaveLength(2);
    expect(sent[0]).toBe(1);
    expect(sent[1]).toBeLessThan(1024);
    expect(sent[1]).toBeGreaterThan(900);
  });

  it("run stops cleanly on SIGINT: saved samples stay and the run lock is released", async () => {
    let asked = 0;
    const s = await startOpenAIServer({
      handler: () => {
        if (++asked === 2) process.emit("SIGINT");
        return "\\boxed{1}";
      },
    });
    servers.push(s);
    const out = join(root, "interrupted");
    const sigintListeners = process.listenerCount("SIGINT");
    const r = await cli(["run", "--base-url", s.url, "--model", "m", "--benchmarks", "aime24", "--limit", "5", "--concurrency", "1", "--out", out, "--quiet"]);
    expect(r).toMatchObject({ code: 1, err: expect.stringContaining(`interrupted (SIGINT); the samples saved so far stay in ${out}`) });
    expect(existsSync(join(out, "run.lock"))).toBe(false);
    expect(process.listenerCount("SIGINT")).toBe(sigintListeners);
  });

  it("reports bad usage with exit code 2 and a message naming the flag", async () => {
    expect((await cli([])).code).toBe(2);
    expect((await cli(["--help"])).out).toContain("infialign-eval run");
    const missing = await cli(["run", "--base-url", "http://127.0.0.1:1/v1", "--benchmarks", "aime24"]);
    expect(missing).toMatchObject({ code: 2, err: expect.stringContaining("--model") });
    const badSamples = await cli(["run", "--base-url", "http://127.0.0.1:1/v1", "--model", "m", "--benchmarks", "aime24", "--samples", "0"]);
    expect(badSamples).toMatchObject({ code: 2, err: expect.stringContaining("--samples must be an integer ≥ 1") });
    const unknown = await cli(["run", "--base-url", "http://127.0.0.1:1/v1", "--model", "m", "--benchmarks", "nope"]);
    expect(unknown).toMatchObject({ code: 2, err: expect.stringContaining('unknown benchmark "nope"') });
    // Not retried as a network failure: refused at once, naming the flag.
    const badUrl = await cli(["run", "--base-url", "not-a-url", "--model", "m", "--benchmarks", "aime24"]);
    expect(badUrl).toMatchObject({ code: 2, err: '[infialign/eval] cli: --base-url must be an http(s) URL of an OpenAI-compatible server, such as http://localhost:8000/v1; got "not-a-url"\n' });
    const badContext = await cli(["run", "--base-url", "http://127.0.0.1:1/v1", "--model", "m", "--benchmarks", "aime24", "--context-length", "1k"]);
    expect(badContext).toMatchObject({ code: 2, err: expect.stringContaining('--context-length must be an integer ≥ 2, got "1k"') });
    expect((await cli(["frobnicate"])).code).toBe(2);
    expect((await cli(["report", "--runs", join(root, "missing"), "--out", join(root, "x.html")])).err).toContain("results.json not found");
    expect((await cli(["compare", "--a", "x", "--b", "y", "--by", "vote"])).code).toBe(2);
  });
});
