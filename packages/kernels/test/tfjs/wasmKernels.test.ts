import * as tf from "@tensorflow/tfjs-core";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../../src/tfjs/backend.js";
import { installWasmKernels, uninstallWasmKernels, wasmKernelsInstalled } from "../../src/tfjs/wasm/kernels.js";
import { seeded } from "./gradcheck.js";

/** Runs `f` with the stock kernels, then with ours; both results read back to JS with their shapes. */
function stockAndOurs(f: () => tf.Tensor): { stock: { shape: number[]; values: number[] }; ours: { shape: number[]; values: number[] } } {
  const read = () =>
    tf.tidy(() => {
      const t = f();
      return { shape: t.shape, values: Array.from(t.dataSync()) };
    });
  uninstallWasmKernels();
  const stock = read();
  // Every product on our XNNPACK path, small ones included (the default keeps tiny batched products on stock).
  installWasmKernels({ smallProductMacs: 0, minRows: 0 });
  return { stock, ours: read() };
}

function expectAllClose(actual: readonly number[], expected: readonly number[], tol: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs((actual[i] as number) - (expected[i] as number)) / (1 + Math.abs(expected[i] as number)));
  expect(worst).toBeLessThan(tol);
}

/** float64 batched product with numpy broadcasting of the batch axes: the ground truth where stock kernels disagree. */
function referenceMatMul(a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean): { shape: number[]; values: number[] } {
  const av = a.dataSync();
  const bv = b.dataSync();
  const ra = a.shape.length;
  const rb = b.shape.length;
  const [ar, ac] = [a.shape[ra - 2] as number, a.shape[ra - 1] as number];
  const [br, bc] = [b.shape[rb - 2] as number, b.shape[rb - 1] as number];
  const m = transposeA ? ac : ar;
  const k = transposeA ? ar : ac;
  const n = transposeB ? br : bc;
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const flatIndex = (own: number[], coords: number[]) => {
    let index = 0;
    for (let d = 0; d < own.length; d++) index = index * (own[d] as number) + ((own[d] as number) === 1 ? 0 : (coords[coords.length - own.length + d] as number));
    return index;
  };
  const batch = tf.util.sizeFromShape(outer);
  const values: number[] = [];
  for (let i = 0; i < batch; i++) {
    const coords: number[] = [];
    let rest = i;
    for (let d = outer.length - 1; d >= 0; d--) {
      coords.unshift(rest % (outer[d] as number));
      rest = Math.floor(rest / (outer[d] as number));
    }
    const ia = flatIndex(a.shape.slice(0, -2), coords) * ar * ac;
    const ib = flatIndex(b.shape.slice(0, -2), coords) * br * bc;
    for (let r = 0; r < m; r++) {
      for (let c = 0; c < n; c++) {
        let sum = 0;
        for (let j = 0; j < k; j++) sum += (av[ia + (transposeA ? j * ac + r : r * ac + j)] as number) * (bv[ib + (transposeB ? c * bc + j : j * bc + c)] as number);
        values.push(sum);
      }
    }
  }
  return { shape: [...outer, m, n], values };
}

beforeAll(async () => {
  await selectBackend({ prefer: "wasm", threads: 1 });
});
afterAll(() => uninstallWasmKernels());

describe("installWasmKernels", () => {
  it("registers BatchMatMul, _FusedMatMul and Slice, is idempotent, and uninstalls back to the stock configs", () => {
    uninstallWasmKernels();
    const stock = tf.getKernel("BatchMatMul", "wasm");
    expect(wasmKernelsInstalled()).toBe(false);
    expect(installWasmKernels()).toEqual(["BatchMatMul", "_FusedMatMul", "Slice"]);
    const ours = tf.getKernel("BatchMatMul", "wasm");
    expect(ours).not.toBe(stock);
    expect(installWasmKernels()).toEqual(["BatchMatMul", "_FusedMatMul", "Slice"]);
    expect(tf.getKernel("BatchMatMul", "wasm")).toBe(ours);
    expect(wasmKernelsInstalled()).toBe(true);
    uninstallWasmKernels();
    expect(tf.getKernel("BatchMatMul", "wasm")).toBe(stock);
    uninstallWasmKernels();
    expect(wasmKernelsInstalled()).toBe(false);
  });

  it("throws a clear error when the wasm backend's kernels are not registered", () => {
    uninstallWasmKernels();
    const stock = tf.getKernel("Slice", "wasm") as tf.KernelConfig;
    tf.unregisterKernel("Slice", "wasm");
    try {
      expect(() => installWasmKernels()).toThrow(/the wasm backend's Slice kernel is not registered; install @tensorflow\/tfjs-backend-wasm and import it/);
      expect(wasmKernelsInstalled()).toBe(false);
      expect(tf.getKernel("BatchMatMul", "wasm")?.kernelFunc).not.toBeUndefined();
    } finally {
      tf.registerKernel(stock);
    }
  });

  it("leaks no heap tensors", () => {
    installWasmKernels();
    const a = seeded([3, 20, 12], 1);
    const b = seeded([3, 16, 12], 2);
    const c = seeded([3, 20, 5], 3);
    const before = tf.memory().numTensors;
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const ids = backend.numDataIds();
    for (let i = 0; i < 3; i++) {
      tf.matMul(a, b, false, true).dispose();
      tf.matMul(a, c, true, false).dispose();
      tf.slice(a, [1, 2, 3], [2, 5, 4]).dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(backend.numDataIds()).toBe(ids);
    tf.dispose([a, b, c]);
  });
});

const dims = fc.integer({ min: 1, max: 19 });

describe("BatchMatMul on the wasm backend", () => {
  it("equals the stock kernel for random shapes, transposes, batch 1 and >1, one-sided batch", () => {
    fc.assert(
      fc.property(
        fc.record({ m: dims, k: dims, n: dims, batch: fc.constantFrom([], [1], [3], [2, 2]), bBatched: fc.boolean(), transposeA: fc.boolean(), transposeB: fc.boolean(), seed: fc.nat(1000) }),
        ({ m, k, n, batch, bBatched, transposeA, transposeB, seed }) => {
          const aShape = [...batch, ...(transposeA ? [k, m] : [m, k])];
          const bShape = [...(bBatched ? batch : []), ...(transposeB ? [n, k] : [k, n])];
          const { stock, ours } = stockAndOurs(() => tf.matMul(seeded(aShape, seed), seeded(bShape, seed + 1), transposeA, transposeB));
          expect(ours.shape).toEqual(stock.shape);
          expectAllClose(ours.values, stock.values, 1e-5);
        },
      ),
      { seed: 7, numRuns: 60 },
    );
  });

  it("broadcasts batch axes like numpy (a's or b's batch of 1, and [2,1] × [1,3])", () => {
    installWasmKernels({ smallProductMacs: 0, minRows: 0 });
    const cases: [number[], number[], boolean, boolean][] = [
      [[1, 5, 7], [4, 7, 6], false, false],
      [[4, 7, 5], [1, 6, 7], true, true],
      [[5, 7], [2, 3, 7, 6], false, false],
      [[2, 1, 5, 7], [1, 3, 6, 7], false, true],
    ];
    for (const [aShape, bShape, ta, tb] of cases) {
      tf.tidy(() => {
        const a = seeded(aShape, 3);
        const b = seeded(bShape, 4);
        const c = tf.matMul(a, b, ta, tb);
        const expected = referenceMatMul(a, b, ta, tb);
        expect(c.shape).toEqual(expected.shape);
        expectAllClose(Array.from(c.dataSync()), expected.values, 1e-5);
      });
    }
  });

  it("handles empty operands and an empty shared axis (all zeros)", () => {
    installWasmKernels();
    tf.tidy(() => {
      expect(tf.matMul(tf.zeros([0, 4]), seeded([4, 3], 1)).shape).toEqual([0, 3]);
      const z = tf.matMul(tf.zeros([2, 5, 0]), tf.zeros([2, 0, 3]));
      expect(z.shape).toEqual([2, 5, 3]);
      expect(Array.from(z.dataSync()).every((v) => v === 0)).toBe(true);
    });
  });

  it("keeps weights reused under a second shape correct (XNNPACK caches packed weights per tensor id)", () => {
    installWasmKernels();
    tf.tidy(() => {
      const w = seeded([6, 8], 5);
      const x = seeded([3, 6], 6);
      const first = tf.matMul(x, w);
      const w2 = tf.reshape(w, [12, 4]); // same data id, different [k, n]
      const x2 = seeded([3, 12], 7);
      const second = tf.matMul(x2, w2);
      expectAllClose(Array.from(first.dataSync()), referenceMatMul(x, w, false, false).values, 1e-5);
      expectAllClose(Array.from(second.dataSync()), referenceMatMul(x2, w2, false, false).values, 1e-5);
    });
  });

  it.each([
    ["tiny batched (decode-time attention)", [8, 1, 16], [8, 40, 16]],
    ["one row against a transposed weight (decode-time x·Wᵀ)", [1, 64], [96, 64]],
  ])("keeps %s products on the stock kernel by default, with the same values", (_, aShape, bShape) => {
    const product = () => tf.matMul(seeded(aShape as number[], 11), seeded(bShape as number[], 12), false, true);
    const { stock } = stockAndOurs(product);
    installWasmKernels();
    const routed = tf.tidy(() => Array.from(product().dataSync()));
    expect(routed).toEqual(stock.values);
    installWasmKernels({ smallProductMacs: 0, minRows: 0 });
    expectAllClose(tf.tidy(() => Array.from(product().dataSync())), stock.values, 1e-5);
  });

  it("has the same gradients as the stock kernel", () => {
    const { stock, ours } = stockAndOurs(() => {
      const [ga, gb] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.matMul(a, b, false, true), seeded([4, 9, 11], 9))))([seeded([4, 9, 13], 1), seeded([4, 11, 13], 2)]);
      return tf.concat([tf.reshape(ga as tf.Tensor, [-1]), tf.reshape(gb as tf.Tensor, [-1])]);
    });
    expectAllClose(ours.values, stock.values, 1e-5);
  });
});

describe("_FusedMatMul on the wasm backend", () => {
  it("equals matMul + bias + activation, including cases the stock kernel gets wrong (broadcast weights)", () => {
    installWasmKernels();
    const cases: [number[], number[], boolean, boolean, tf.fused.Activation][] = [
      [[17, 33], [9, 33], false, true, "relu"],
      [[4, 17, 33], [9, 33], false, true, "relu"],
      [[4, 33, 17], [33, 9], true, false, "linear"],
      [[3, 5, 7], [3, 7, 6], false, false, "elu"],
      [[2, 7, 5], [1, 6, 7], true, true, "relu"],
    ];
    for (const [aShape, bShape, transposeA, transposeB, activation] of cases) {
      tf.tidy(() => {
        const a = seeded(aShape, 1);
        const b = seeded(bShape, 2);
        const n = (transposeB ? bShape[bShape.length - 2] : bShape[bShape.length - 1]) as number;
        const bias = seeded([n], 3);
        const fused = tf.fused.matMul({ a, b, transposeA, transposeB, bias, activation });
        const plain = tf.add(tf.matMul(a, b, transposeA, transposeB), bias);
        const expected = activation === "relu" ? tf.relu(plain) : activation === "elu" ? tf.elu(plain) : plain;
        expect(fused.shape).toEqual(expected.shape);
        expectAllClose(Array.from(fused.dataSync()), Array.from(expected.dataSync()), 1e-5);
      });
    }
  });
});

describe("Slice on the wasm backend", () => {
  it("equals the stock kernel for rank 1–6 and float32/int32/bool", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }).chain((rank) =>
          fc.record({
            box: fc.array(
              fc.integer({ min: 1, max: 6 }).chain((size) => fc.tuple(fc.constant(size), fc.integer({ min: 0, max: size - 1 })).chain(([s, b]) => fc.tuple(fc.constant(s), fc.constant(b), fc.integer({ min: 0, max: s - b })))),
              { minLength: rank, maxLength: rank },
            ),
            dtype: fc.constantFrom("float32", "int32", "bool"),
          }),
        ),
        ({ box, dtype }) => {
          const shape = box.map(([s]) => s);
          const begin = box.map(([, b]) => b);
          const size = box.map(([, , e]) => e);
          const make = () => {
            const n = tf.util.sizeFromShape(shape);
            const values = tf.range(0, n, 1, "int32");
            const x = dtype === "bool" ? tf.greater(tf.mod(values, 3), 0) : dtype === "int32" ? values : tf.mul(tf.cast(values, "float32"), 0.5);
            return tf.slice(tf.reshape(x, shape), begin, size);
          };
          const { stock, ours } = stockAndOurs(make);
          expect(ours).toEqual(stock);
        },
      ),
      { seed: 11, numRuns: 150 },
    );
  });

  it("supports -1 sizes and a single begin/size number", () => {
    const cases = [() => tf.slice(tf.reshape(tf.range(0, 60), [3, 4, 5]), [1, 0, 2], [-1, 3, -1]), () => tf.slice(tf.range(0, 40), 3, 30)];
    for (const f of cases) {
      const { stock, ours } = stockAndOurs(f);
      expect(ours).toEqual(stock);
    }
  });
});
