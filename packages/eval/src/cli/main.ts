import { main } from "./program.js";

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`[infialign/eval] cli: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
