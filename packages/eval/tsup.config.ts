import { defineConfig } from "tsup";
import { libraryOptions } from "../../tsup.config.base";

export default defineConfig([
  libraryOptions,
  // The CLI is ESM only: it is an executable, never required.
  { entry: { cli: "src/cli/main.ts" }, format: ["esm"], sourcemap: true, target: "node20", banner: { js: "#!/usr/bin/env node" } },
]);
