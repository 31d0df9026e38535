import { defineConfig } from "tsup";
import { cliConfig, libraryConfigs } from "../../tsup.config.base";

// The CLI and the processes executor's worker script are ESM only: executables, never required.
export default defineConfig([...libraryConfigs(), cliConfig({ cli: "src/cli/main.ts", processWorker: "src/runtime/executor/processWorker.ts", cliRecipe: "src/cli/recipe.ts" })]);
