import { describe, expect, it, vi } from "vitest";

// This file's process cannot resolve onnxruntime-node (vitest runs each test file in its own fork, and this mock
// applies to the sources' `node:module`), as on a machine without the optional peer.
vi.mock("node:module", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:module")>();
  const createRequire = (from: string | URL) => {
    const real = actual.createRequire(from);
    const require = ((id: string) => real(id)) as NodeJS.Require;
    require.resolve = ((id: string, options?: { paths?: string[] }) => {
      if (id === "onnxruntime-node") throw Object.assign(new Error("Cannot find module 'onnxruntime-node'"), { code: "MODULE_NOT_FOUND" });
      return real.resolve(id, options);
    }) as NodeJS.RequireResolve;
    return require;
  };
  return { ...actual, createRequire, default: { ...actual, createRequire } };
});

const { getVectorEngine } = await import("../src/engine/vectorEngine.js");
const { cosineTopK } = await import("../src/vector/cosineTopK.js");

describe("without onnxruntime-node", () => {
  it('"auto" falls back to the js kernels; "onnxruntime" says to install it', () => {
    expect(getVectorEngine({ engine: "auto", threads: 1 }).name).toBe("js");
    expect(() => getVectorEngine({ engine: "onnxruntime" })).toThrow(/install onnxruntime-node to use engine "onnxruntime" \(npm i onnxruntime-node\)/);
    const keys = Float32Array.of(1, 0, 0, 1);
    expect(Array.from(cosineTopK(Float32Array.of(0, 1), keys, 2, 1).indices)).toEqual([1]);
    expect(() => cosineTopK(Float32Array.of(0, 1), keys, 2, 1, { engine: "onnxruntime" })).toThrow(/install onnxruntime-node/);
  });
});
