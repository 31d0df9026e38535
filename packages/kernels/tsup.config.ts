import { defineConfig } from "tsup";
import { libraryOptions } from "../../tsup.config.base";

// Two entry points: the dependency-free vector kernels, and the TensorFlow.js side (optional peers) under "./tfjs".
export default defineConfig({ ...libraryOptions, entry: { index: "src/index.ts", tfjs: "src/tfjs/index.ts" } });
