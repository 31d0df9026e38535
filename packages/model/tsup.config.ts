import { defineConfig } from "tsup";
import { cliConfig, libraryConfigs } from "../../tsup.config.base";

// The server CLI is ESM only: it is an executable, never required.
export default defineConfig([...libraryConfigs(), cliConfig({ "serve-cli": "src/cli/serveBin.ts" })]);
