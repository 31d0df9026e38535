import { defineConfig } from "tsup";
import { libraryConfigs } from "../../tsup.config.base";

export default defineConfig(libraryConfigs());
