import { main } from "./program.js";

main().then((code) => {
  process.exitCode = code;
});
