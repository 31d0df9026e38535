import { describe, expect, it } from "vitest";
import { DEFAULT_DEMO_CONFIG, resolveDemoConfig } from "../src/config.js";

describe("resolveDemoConfig", () => {
  it("applies the defaults without mutating them, and the smoke preset under the caller's fields", () => {
    const before = JSON.stringify(DEFAULT_DEMO_CONFIG);
    expect(resolveDemoConfig()).toEqual(DEFAULT_DEMO_CONFIG);
    const smoke = resolveDemoConfig({ seed: 7, evaluation: { items: 5 } }, "smoke");
    expect(smoke.seed).toBe(7);
    expect(smoke.evaluation.items).toBe(5);
    expect(smoke.evaluation.samples).toBe(1);
    expect(smoke.pool).toBeLessThan(DEFAULT_DEMO_CONFIG.pool);
    expect(JSON.stringify(DEFAULT_DEMO_CONFIG)).toBe(before);
  });

  it("reports every invalid field at once", () => {
    expect(() => resolveDemoConfig({ pool: 0, heldOut: 1.5, model: { heads: 3 }, sft: { maxLength: 4096 }, ablation: { arms: ["curated", "bogus"] } })).toThrow(
      /6 invalid fields:[\s\S]*pool[\s\S]*heldOut[\s\S]*model\.heads[\s\S]*sft\.maxLength[\s\S]*ablation\.arms: expected some of full, curated/,
    );
  });
});
