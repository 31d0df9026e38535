// Shared by the run, CLI and report tests: a small math benchmark and a fake endpoint whose answers are a known
// function of (problem, seed), so expected accuracies are computed here independently of the metrics code.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOpenAIServer } from "@infialign/test-utils";
import { afterEach } from "vitest";
import { customMathBenchmark } from "../src/benchmarks/custom.js";
import type { Protocol } from "../src/types.js";

export const PROBLEMS = 6;

/** Returns a maker of temporary directories (named `prefix…`) that are removed after each test of the calling file. */
export function useTempDirs(prefix: string): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
}

/** Problem i asks for i + i. */
export function mathBench(name = "toy", problems = PROBLEMS) {
  return customMathBenchmark({
    name,
    title: `Toy ${name}`,
    column: name.toUpperCase(),
    items: [...Array(problems)].map((_, i) => ({ id: `p${i}`, problem: `Problem ${i}: what is ${i} + ${i}?`, answer: String(2 * i), difficulty: 1 + (i % 3) })),
  });
}

/** Whether the fake model answers problem `i` correctly when sampled with `seed`. */
export function answersCorrectly(i: number, seed: number, bias = 0): boolean {
  return (i + seed + bias) % 3 !== 0;
}

/** A fake endpoint: boxed right answer when `answersCorrectly`, else a boxed wrong one. `bias` makes a second "model". */
export async function fakeMathServer(bias = 0) {
  return startOpenAIServer({
    handler: (req) => {
      const m = /Problem (\d+):/.exec(req.messages.at(-1)?.content ?? "");
      const i = Number(m?.[1] ?? -1);
      const right = answersCorrectly(i, req.seed ?? 0, bias);
      return `Adding gives ${right ? 2 * i : 2 * i + 1}. The answer is \\boxed{${right ? 2 * i : 2 * i + 1}}.`;
    },
  });
}

export function protocol(samples: number, seed = 7): Protocol {
  return { temperature: 0.6, topP: 0.95, maxTokens: 256, samples: { default: samples }, k: [1, samples], seed };
}

/** Expected avg@n: mean over problems of the fraction of correct samples, sample j drawn with seed + j. */
export function expectedAccuracy(samples: number, seed: number, bias = 0, problems = PROBLEMS): number {
  let sum = 0;
  for (let i = 0; i < problems; i++) {
    let c = 0;
    for (let j = 0; j < samples; j++) if (answersCorrectly(i, seed + j, bias)) c++;
    sum += c / samples;
  }
  return sum / problems;
}

export interface ScriptedServer {
  url: string;
  requests: { method: string; path: string; body: Record<string, unknown> | undefined }[];
  close(): Promise<void>;
}

/**
 * An OpenAI-style server whose every reply is scripted, for bodies the fault-injecting test server cannot send
 * (`content: null`, a `/v1/models` with `max_model_len`).
 */
export async function scriptedServer(reply: (path: string, body: Record<string, unknown> | undefined, nth: number) => { status?: number; json: unknown }): Promise<ScriptedServer> {
  const requests: ScriptedServer["requests"] = [];
  const server = createServer((req, res) => {
    let data = "";
    req.on("data", (d) => (data += d));
    req.on("end", () => {
      const path = (req.url ?? "/").split("?")[0]!;
      const body = data ? (JSON.parse(data) as Record<string, unknown>) : undefined;
      requests.push({ method: req.method ?? "", path, body });
      const r = reply(path, body, requests.filter((x) => x.path === path).length);
      res.statusCode = r.status ?? 200;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(r.json));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    requests,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** A chat completion body with one choice. */
export function chatReply(content: string | null, extra: { finish_reason?: string; usage?: Record<string, number> } = {}) {
  return { choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: extra.finish_reason ?? "stop" }], ...(extra.usage ? { usage: extra.usage } : {}) };
}
