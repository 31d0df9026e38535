import type { Options } from "tsup";

/** What every published package builds: ESM + CJS + `.d.ts` for Node 20, from src/index.ts. */
export const libraryOptions: Options = {
  entry: { index: "src/index.ts" },
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
  // import.meta.url in the CJS build (createRequire for optional peers).
  shims: true,
};
