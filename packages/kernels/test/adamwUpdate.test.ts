// The fused host AdamW update against torch.optim.AdamW's formula written out step by step in float64.
import { describe, expect, it } from "vitest";
import { adamwUpdate } from "../src/index.js";

describe("adamwUpdate", () => {
  it("matches torch.optim.AdamW (decoupled decay, bias correction) over three steps", () => {
    const param = Float32Array.of(0.5, -1, 2);
    const m = new Float32Array(3);
    const v = new Float32Array(3);
    const ref = { p: [0.5, -1, 2], m: [0, 0, 0], v: [0, 0, 0] };
    const grads = [Float32Array.of(0.1, -0.2, 0.3), Float32Array.of(-0.4, 0.5, 0), Float32Array.of(1, 1, -1)];
    const [lr, b1, b2, eps, wd] = [0.01, 0.9, 0.95, 1e-8, 0.1];
    grads.forEach((g, i) => {
      const t = i + 1;
      adamwUpdate(param, g, m, v, { lr, beta1: b1, beta2: b2, epsilon: eps, weightDecay: wd, step: t });
      for (let j = 0; j < 3; j++) {
        ref.p[j] = ref.p[j]! * (1 - lr * wd);
        ref.m[j] = b1 * ref.m[j]! + (1 - b1) * g[j]!;
        ref.v[j] = b2 * ref.v[j]! + (1 - b2) * g[j]! ** 2;
        const denom = Math.sqrt(ref.v[j]!) / Math.sqrt(1 - b2 ** t) + eps;
        ref.p[j] = ref.p[j]! - (lr / (1 - b1 ** t)) * (ref.m[j]! / denom);
      }
    });
    for (let j = 0; j < 3; j++) {
      expect(param[j]).toBeCloseTo(ref.p[j]!, 6);
      expect(m[j]).toBeCloseTo(ref.m[j]!, 6);
      expect(v[j]).toBeCloseTo(ref.v[j]!, 6);
    }
  });

  it("rejects mismatched lengths and a step below 1", () => {
    const a = new Float32Array(2);
    expect(() => adamwUpdate(a, new Float32Array(3), a, a, { lr: 1, beta1: 0.9, beta2: 0.9, epsilon: 0, weightDecay: 0, step: 1 })).toThrow(/expected all equal/);
    expect(() => adamwUpdate(a, a, new Float32Array(2), new Float32Array(2), { lr: 1, beta1: 0.9, beta2: 0.9, epsilon: 0, weightDecay: 0, step: 0 })).toThrow(/step=0/);
  });
});
