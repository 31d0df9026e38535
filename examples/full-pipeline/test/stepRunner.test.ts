import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MARKER_NAME, StepRunner } from "../src/steps/stepRunner.js";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "fp-steps-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A three-step chain a → b → c whose runs are counted; `params` sets each step's settings. */
async function chain(outDir: string, params: { a: number; b: number; c: number }, force = false) {
  const calls: string[] = [];
  const runner = new StepRunner(outDir, { force, now: () => 0 });
  const track = <T>(call: string, value: T): T => {
    calls.push(call);
    return value;
  };
  const a = await runner.run({ name: "a", after: [], params: params.a, run: async () => track("a", params.a * 10) });
  const b = await runner.run({ name: "b", after: ["a"], params: params.b, run: async () => track("b", a + params.b) });
  const c = await runner.run({ name: "c", after: ["b"], params: params.c, run: async (_dir, resume) => track(`c:${resume}`, b + params.c) });
  return { calls, runner, result: c };
}

describe("StepRunner", () => {
  it("runs every step once, then skips them all on a rerun with the same results", async () => {
    const out = tempDir();
    const first = await chain(out, { a: 1, b: 2, c: 3 });
    expect(first.calls).toEqual(["a", "b", "c:false"]);
    expect(first.result).toBe(15);
    const second = await chain(out, { a: 1, b: 2, c: 3 });
    expect(second.calls).toEqual([]);
    expect(second.runner.skipped).toEqual(["a", "b", "c"]);
    expect(second.result).toBe(15);
    const marker = JSON.parse(readFileSync(join(out, "c", MARKER_NAME), "utf8"));
    expect(marker).toMatchObject({ step: "c", result: 15 });
  });

  it("reruns a step whose settings changed and every step after it, not the ones before", async () => {
    const out = tempDir();
    await chain(out, { a: 1, b: 2, c: 3 });
    const changed = await chain(out, { a: 1, b: 5, c: 3 });
    expect(changed.calls).toEqual(["b", "c:false"]);
    expect(changed.runner.skipped).toEqual(["a"]);
    expect(changed.result).toBe(18);
    // Partial outputs of other settings are not continued.
    const runner = new StepRunner(out);
    await runner.run({ name: "a", after: [], params: 1, run: async () => 1 });
    await expect(runner.run({ name: "b", after: ["a"], params: 9, run: async () => Promise.reject(new Error("crash")) })).rejects.toThrow("crash");
    const other = new StepRunner(out);
    await other.run({ name: "a", after: [], params: 1, run: async () => 1 });
    expect(await other.run({ name: "b", after: ["a"], params: 8, run: async (_dir, resume) => resume })).toBe(false);
  });

  it("resumes after the last completed step when a step failed, continuing the failed step's partial outputs", async () => {
    const out = tempDir();
    const runner = new StepRunner(out);
    await runner.run({ name: "a", after: [], params: 1, run: async () => 1 });
    await expect(runner.run({ name: "b", after: ["a"], params: 1, run: async () => Promise.reject(new Error("crash")) })).rejects.toThrow("crash");
    const again = new StepRunner(out);
    await again.run({ name: "a", after: [], params: 1, run: async () => 1 });
    expect(await again.run({ name: "b", after: ["a"], params: 1, run: async (_dir, resume) => resume })).toBe(true);
    expect(again.executed).toEqual(["b"]);
  });

  it("reruns everything under force from empty directories and tells the steps not to resume", async () => {
    const out = tempDir();
    await chain(out, { a: 1, b: 2, c: 3 });
    writeFileSync(join(out, "c", "cache.json"), "{}");
    const forced = await chain(out, { a: 1, b: 2, c: 3 }, true);
    expect(forced.calls).toEqual(["a", "b", "c:false"]);
    expect(existsSync(join(out, "c", "cache.json"))).toBe(false);
  });

  it("names an unknown dependency", async () => {
    const runner = new StepRunner(tempDir());
    await expect(runner.run({ name: "b", after: ["missing"], params: 0, run: async () => 0 })).rejects.toThrow(/step "missing" has not run yet/);
  });
});
