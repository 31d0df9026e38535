import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOpenAIServer } from "@infialign/test-utils";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../src/main.js";

const dir = mkdtempSync(join(tmpdir(), "eval-endpoint-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("eval-endpoint example", () => {
  it("evaluates an OpenAI-compatible endpoint on shipped benchmarks, writes the paper table and report, and resumes", async () => {
    // Answers 2 for every problem: right exactly where the gold answer is 2.
    const server = await startOpenAIServer({ handler: () => "Reasoning... so the answer is \\boxed{2}." });
    try {
      const out = join(dir, "run");
      const lines: string[] = [];
      const args = ["--", "--base-url", server.url, "--model", "m", "--benchmarks", "gsm8k,math500", "--limit", "6", "--samples", "2", "--out", out];
      expect(await main(args, (l) => lines.push(l), () => {})).toBe(0);
      const chat = () => server.requests.filter((r) => r.path.endsWith("/chat/completions")).length;
      expect(chat()).toBe(2 * 6 * 2);
      expect(lines.join("\n")).toMatch(/\| Model \|.*MATH500/);
      const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as { benchmarks: { benchmark: string; items: number; samplesPerItem: number }[] };
      expect(results.benchmarks.map((b) => [b.benchmark, b.items, b.samplesPerItem])).toEqual([
        ["gsm8k", 6, 2],
        ["math500", 6, 2],
      ]);
      expect(existsSync(join(out, "report.html"))).toBe(true);
      expect(readFileSync(join(out, "table.md"), "utf8")).toContain("MATH500");
      // A rerun finds every completion on disk and sends nothing.
      expect(await main(args, () => {}, () => {})).toBe(0);
      expect(chat()).toBe(24);
    } finally {
      await server.close();
    }
  });

  it("rejects a missing endpoint with usage (exit 2) and a bad number (exit 1)", async () => {
    const errors: string[] = [];
    expect(await main(["--model", "m"], () => {}, (l) => errors.push(l))).toBe(2);
    expect(errors.join("\n")).toContain("--base-url and --model are required");
    expect(await main(["--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--limit", "0"], () => {}, (l) => errors.push(l))).toBe(1);
    expect(errors.join("\n")).toContain('--limit "0": expected a positive integer');
  });

  it("--local-demo serves a tiny model with infialign-serve and evaluates it", async () => {
    const lines: string[] = [];
    expect(await main(["--local-demo", "--benchmarks", "gsm8k", "--limit", "2", "--max-tokens", "8", "--out", join(dir, "demo")], (l) => lines.push(l), () => {})).toBe(0);
    expect(lines.join("\n")).toContain("tiny-random");
  }, 60_000);
});
