import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

// The published artefacts, built by turbo before this package's tests (test dependsOn build).
const dist = join(import.meta.dirname, "..", "dist");

describe("published build", () => {
  it("loads as CommonJS, including the optional tokenizer peer", async () => {
    const cjs = createRequire(import.meta.url)(join(dist, "index.cjs"));
    expect(typeof cjs.runPipeline).toBe("function");
    expect(cjs.computeSampleId("a", "b")).toMatch(/^[0-9a-f]{32}$/);
    const tokenizer = await cjs.loadTokenizer("qwen2.5");
    expect(tokenizer.count("Hello world")).toBe(2);
  });

  it("loads as ESM with the same exports", async () => {
    const esm = await import(pathToFileURL(join(dist, "index.js")).href);
    const cjs = createRequire(import.meta.url)(join(dist, "index.cjs"));
    expect(Object.keys(esm).sort()).toEqual(Object.keys(cjs).sort());
    expect(esm.computeSampleId("a", "b")).toBe(cjs.computeSampleId("a", "b"));
  });

  it("ships an executable CLI", () => {
    const out = execFileSync(process.execPath, [join(dist, "cli.js"), "--help"], { encoding: "utf8" });
    expect(out).toMatch(/Usage: infialign-data/);
  });
});
