import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { benchmarkError } from "./benchmarkRecords.js";

/** The folder of the benchmark files shipped with this package, found from this module (src/ in dev, dist/ built). */
export function shippedBenchmarkDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, "data", "benchmarks");
    if (existsSync(join(candidate, "math500.jsonl"))) return candidate;
    dir = dirname(dir);
  }
  throw benchmarkError("the shipped data/benchmarks folder was not found next to the package; reinstall @infialign/data");
}
