import { defineConfig } from "tsup";
import { libraryOptions } from "../../tsup.config.base";

export default defineConfig([
  libraryOptions,
  // The server CLI is ESM only: it is an executable, never required.
  { entry: { "serve-cli": "src/cli/serveBin.ts" }, format: ["esm"], sourcemap: true, target: "node20", banner: { js: "#!/usr/bin/env node" } },
]);
