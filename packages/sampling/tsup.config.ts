import { defineConfig } from "tsup";
import { libraryOptions } from "../../tsup.config.base";

export default defineConfig(libraryOptions);
