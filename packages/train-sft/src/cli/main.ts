// The `infialign-sft` executable (tsup adds the shebang banner): ESM only, never required.
import { main } from "./program.js";

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
