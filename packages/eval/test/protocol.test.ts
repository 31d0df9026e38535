import { describe, expect, it } from "vitest";
import { DEFAULT_PROTOCOL, PROTOCOL_PRESETS, resolveProtocol, samplesFor } from "../src/protocol.js";

describe("protocol", () => {
  it("defaults to R1's sampling settings", () => {
    expect(resolveProtocol()).toEqual({ temperature: 0.6, topP: 0.95, maxTokens: 32_768, samples: { default: 1 }, k: [1], seed: 0 });
    expect(DEFAULT_PROTOCOL.temperature).toBe(0.6);
  });

  it("r1: 64 samples everywhere, pass@1 and cons@64", () => {
    const p = resolveProtocol("r1");
    expect(p).toMatchObject({ temperature: 0.6, topP: 0.95, maxTokens: 32_768, k: [1, 64] });
    for (const b of ["aime24", "math500", "gpqa-diamond", "livecodebench"]) expect(samplesFor(p, b)).toBe(64);
  });

  it("open-r1: avg@64 AIME, 4 MATH-500, 8 GPQA, 16 LiveCodeBench", () => {
    const p = resolveProtocol("open-r1");
    expect(["aime24", "aime25", "math500", "gpqa-diamond", "livecodebench", "gsm8k"].map((b) => samplesFor(p, b))).toEqual([64, 64, 4, 8, 16, 1]);
    expect(p.maxTokens).toBe(32_768);
  });

  it("quick: one short sample", () => {
    expect(resolveProtocol("quick")).toMatchObject({ maxTokens: 1_024, samples: { default: 1 } });
  });

  it("merges overrides without touching presets or the caller's object", () => {
    const overrides = { temperature: 0, samples: { math500: 2 }, k: [4, 1, 4] };
    const p = resolveProtocol("open-r1", overrides);
    expect(p.temperature).toBe(0);
    expect(samplesFor(p, "math500")).toBe(2);
    expect(samplesFor(p, "aime24")).toBe(64);
    expect(p.k).toEqual([1, 4]);
    expect(overrides).toEqual({ temperature: 0, samples: { math500: 2 }, k: [4, 1, 4] });
    expect(PROTOCOL_PRESETS["open-r1"].samples.math500).toBe(4);
  });

  it("reports every invalid field at once", () => {
    let message = "";
    try {
      resolveProtocol("r1", { temperature: -1, topP: 2, maxTokens: 0.5, samples: { aime24: 0 }, k: [] });
    } catch (e) {
      message = (e as Error).message;
    }
    for (const field of ["temperature", "topP", "maxTokens", "samples.aime24", "k"]) expect(message).toContain(`\n  ${field}:`);
    expect(() => resolveProtocol("fast")).toThrow(/unknown preset "fast"; known: default, r1, open-r1, quick/);
    expect(() => resolveProtocol("r1", { extra: 1 } as never)).toThrow(/invalid options/);
  });
});
