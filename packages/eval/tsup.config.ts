import { defineConfig } from "tsup";
import { cliConfig, libraryConfigs } from "../../tsup.config.base";

// The CLI is ESM only: it is an executable, never required.
export default defineConfig([...libraryConfigs(), cliConfig({ cli: "src/cli/main.ts" })]);
