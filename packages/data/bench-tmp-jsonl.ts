import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { readJsonl } from "./src/readers/jsonl.js";
const file = process.argv[3]!;
const mode = process.argv[2];
const t0 = performance.now();
let n = 0, bad = 0;
if (mode === "readline") {
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) { if (!line) continue; JSON.parse(line); n++; }
} else {
  for await (const r of readJsonl(file)) { if (r.ok) n++; else bad++; }
}
const s = (performance.now() - t0) / 1000;
console.log(mode, n, bad, s.toFixed(2) + "s", Math.round(n / s) + " rec/s", (205068200 / 1e6 / s).toFixed(0) + " MB/s");
