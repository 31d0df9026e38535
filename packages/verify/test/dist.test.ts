import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// The published artefacts, built by turbo before this package's tests (test dependsOn build).
const dist = join(import.meta.dirname, "..", "dist");

describe("published build", () => {
  it("the CLI speaks the line protocol from the built file", () => {
    const input = [
      JSON.stringify({ gold: "\\frac{1}{2}", prediction: "so it is \\boxed{0.5}." }),
      JSON.stringify({ gold: "3", prediction: "The answer is 4." }),
      "not json",
    ].join("\n");
    const out = execFileSync(process.execPath, [join(dist, "cli.js"), "math"], { input, encoding: "utf8" });
    const lines = out.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.correct, l.reason])).toEqual([
      [true, lines[0].reason],
      [false, "unequal"],
      [false, "parse_error"],
    ]);
    expect(lines[0].reason).toMatch(/^equal_/);
    expect(lines[0].extracted).toBe("0.5");
  });

  it("loads as CommonJS", () => {
    const cjs = createRequire(import.meta.url)(join(dist, "index.cjs"));
    expect(cjs.verifyMath("2", "\\boxed{2}").correct).toBe(true);
    expect(typeof cjs.runSandboxed).toBe("function");
  });
});
