import * as tf from "@tensorflow/tfjs-core";
import { afterEach, describe, expect, it } from "vitest";
import { BACKEND_NAMES, describeBackend, measureMatmulGflops, selectBackend } from "../../src/tfjs/backend.js";
import { wasmKernelsInstalled } from "../../src/tfjs/wasm/kernels.js";
import { seeded, useBackend } from "./gradcheck.js";

const saved = process.env.INFIALIGN_BACKEND;
afterEach(() => {
  if (saved === undefined) delete process.env.INFIALIGN_BACKEND;
  else process.env.INFIALIGN_BACKEND = saved;
});

function collect(): { lines: string[]; log: (line: string) => void } {
  const lines: string[] = [];
  return { lines, log: (line) => lines.push(line) };
}

/** A 96×80 · 80×64 product read back to JS, so it survives a backend switch. */
function product(): Float32Array {
  return tf.tidy(() => tf.matMul(seeded([96, 80], 1), seeded([80, 64], 2)).dataSync() as Float32Array);
}

describe("selectBackend", () => {
  it("picks wasm by default here, after skipping the absent native backends", async () => {
    delete process.env.INFIALIGN_BACKEND;
    const { lines, log } = collect();
    const info = await selectBackend({ log });
    expect(info.name).toBe("wasm");
    expect(info.threads).toBe(1);
    expect(tf.getBackend()).toBe("wasm");
    expect(lines.filter((l) => l.includes("skipping"))).toEqual([
      "[infialign/kernels] backend: skipping tfjs-node-gpu: @tensorflow/tfjs-node-gpu is not installed",
      "[infialign/kernels] backend: skipping tfjs-node: @tensorflow/tfjs-node is not installed",
    ]);
  });

  it("reports sane fields for wasm and cpu, and describeBackend agrees", async () => {
    delete process.env.INFIALIGN_BACKEND;
    const wasm = await selectBackend({ prefer: "wasm", threads: 1 });
    expect(wasm).toEqual({ name: "wasm", tfBackend: "wasm", threads: 1, simd: expect.any(Boolean), wasmKernels: true, version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(wasmKernelsInstalled()).toBe(true);
    expect((await selectBackend({ prefer: "wasm", threads: 1, wasmKernels: false })).wasmKernels).toBe(false);
    expect(wasmKernelsInstalled()).toBe(false);
    await selectBackend({ prefer: "wasm", threads: 1 });
    expect(describeBackend()).toEqual(wasm);
    const cpu = await selectBackend({ prefer: "cpu" });
    expect(cpu).toEqual({ name: "cpu", tfBackend: "cpu", threads: 1, simd: undefined, wasmKernels: undefined, version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(tf.getBackend()).toBe("cpu");
    expect(describeBackend()).toEqual(cpu);
  });

  it("is cheap and identical when called twice with the same choice", async () => {
    delete process.env.INFIALIGN_BACKEND;
    const first = await selectBackend({ prefer: "cpu" });
    const { lines, log } = collect();
    const second = await selectBackend({ prefer: "cpu", log });
    // The very same object and no log lines: the second call re-initialised nothing.
    expect(second).toBe(first);
    expect(lines).toEqual([]);
  });

  it("lets INFIALIGN_BACKEND override the default order and an explicit prefer", async () => {
    process.env.INFIALIGN_BACKEND = "cpu";
    const { lines, log } = collect();
    const info = await selectBackend({ prefer: "wasm", threads: 1, log });
    expect(info.name).toBe("cpu");
    expect(tf.getBackend()).toBe("cpu");
    expect(lines[0]).toContain("INFIALIGN_BACKEND=cpu overrides prefer=wasm");
    process.env.INFIALIGN_BACKEND = " tfjs-node , wasm ";
    expect((await selectBackend({ threads: 1 })).name).toBe("wasm");
  });

  it("rejects an unknown INFIALIGN_BACKEND value and lists the valid names", async () => {
    process.env.INFIALIGN_BACKEND = "wasm,tpu";
    await expect(selectBackend()).rejects.toThrow(
      '[infialign/kernels] backend: INFIALIGN_BACKEND="wasm,tpu" names unknown backend(s) "tpu"; valid names: tfjs-node-gpu, tfjs-node, wasm, cpu.',
    );
    expect(BACKEND_NAMES).toEqual(["tfjs-node-gpu", "tfjs-node", "wasm", "cpu"]);
  });

  it("rejects an unknown prefer name", async () => {
    delete process.env.INFIALIGN_BACKEND;
    await expect(selectBackend({ prefer: "webgl" as never })).rejects.toThrow(/prefer: unknown backend "webgl"; valid names: tfjs-node-gpu, tfjs-node, wasm, cpu/);
  });

  it("says what to install when an absent backend is asked for, by option or by env", async () => {
    delete process.env.INFIALIGN_BACKEND;
    await expect(selectBackend({ prefer: "tfjs-node" })).rejects.toThrow(/^\[infialign\/kernels\] backend: install @tensorflow\/tfjs-node to use the tfjs-node backend$/);
    await expect(selectBackend({ prefer: "tfjs-node-gpu" })).rejects.toThrow(/^\[infialign\/kernels\] backend: install @tensorflow\/tfjs-node-gpu to use the tfjs-node-gpu backend$/);
    await expect(selectBackend({ prefer: ["tfjs-node-gpu", "tfjs-node"] })).rejects.toThrow("install @tensorflow/tfjs-node-gpu to use the tfjs-node-gpu backend");
    process.env.INFIALIGN_BACKEND = "tfjs-node";
    await expect(selectBackend({ prefer: "cpu" })).rejects.toThrow("install @tensorflow/tfjs-node to use the tfjs-node backend");
  });

  it("rejects a thread count that is not a positive integer", async () => {
    delete process.env.INFIALIGN_BACKEND;
    await expect(selectBackend({ prefer: "wasm", threads: 0 })).rejects.toThrow("threads must be a positive integer (got 0)");
    await expect(selectBackend({ prefer: "wasm", threads: 1.5 })).rejects.toThrow("threads must be a positive integer (got 1.5)");
  });

  it("takes the first installed backend of a prefer list", async () => {
    delete process.env.INFIALIGN_BACKEND;
    expect((await selectBackend({ prefer: ["tfjs-node", "cpu", "wasm"] })).name).toBe("cpu");
  });

  it("runs wasm on two threads in Node, with results identical to one thread and close to cpu", async () => {
    delete process.env.INFIALIGN_BACKEND;
    await selectBackend({ prefer: "cpu" });
    const reference = product();
    await selectBackend({ prefer: "wasm", threads: 1 });
    const one = product();
    const { lines, log } = collect();
    const info = await selectBackend({ prefer: "wasm", threads: 2, log });
    expect(lines.join("\n")).not.toContain("using 1 thread");
    expect(info.threads).toBe(2);
    expect(describeBackend().threads).toBe(2);
    const two = product();
    // XNNPACK splits the output into tiles per thread; each dot product is summed in the same order, so bit-equal.
    expect(two).toEqual(one);
    let worst = 0;
    for (let i = 0; i < one.length; i++) worst = Math.max(worst, Math.abs((one[i] as number) - (reference[i] as number)));
    expect(worst).toBeLessThan(1e-4);
    const back = await selectBackend({ prefer: "wasm", threads: 1 });
    expect(back.threads).toBe(1);
    expect(product()).toEqual(one);
  });
});

describe("describeBackend", () => {
  it("describes a backend that was set directly with tf.setBackend", async () => {
    delete process.env.INFIALIGN_BACKEND;
    await selectBackend({ prefer: "wasm", threads: 2 });
    await useBackend("cpu");
    expect(describeBackend()).toMatchObject({ name: "cpu", tfBackend: "cpu", threads: 1, simd: undefined });
    await useBackend("wasm");
    expect(describeBackend()).toMatchObject({ name: "wasm", tfBackend: "wasm", threads: 2, simd: expect.any(Boolean) });
  });
});

describe("measureMatmulGflops", () => {
  it("measures a positive, finite rate on the current backend", async () => {
    delete process.env.INFIALIGN_BACKEND;
    await selectBackend({ prefer: "wasm", threads: 1 });
    const before = tf.memory().numTensors;
    const gflops = await measureMatmulGflops(128, 3);
    expect(gflops).toBeGreaterThan(0);
    expect(Number.isFinite(gflops)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("rejects sizes and repeat counts that are not positive integers", async () => {
    await expect(measureMatmulGflops(0)).rejects.toThrow(/size and repeats must be positive integers/);
    await expect(measureMatmulGflops(64, 1.5)).rejects.toThrow(/size and repeats must be positive integers/);
  });
});
