import { createWriteStream, rmSync } from "node:fs";
import { once } from "node:events";
import { readJsonl } from "./src/readers/jsonl.js";
import { ShardedJsonlWriter } from "./src/writers/shardedJsonlWriter.js";
const lines: string[] = [];
for await (const r of readJsonl("/tmp/rbench/math50.jsonl")) if (r.ok) lines.push(JSON.stringify(r.value));
for (let k = 0; k < 2; k++) {
  rmSync("/tmp/rbench/w", { recursive: true, force: true });
  let t0 = performance.now();
  const w = new ShardedJsonlWriter({ dir: "/tmp/rbench/w" });
  for (const l of lines) await w.writeLine(l);
  const shards = await w.close();
  console.log("ShardedJsonlWriter", ((performance.now() - t0) / 1000).toFixed(2) + "s", shards.length);
  t0 = performance.now();
  const s = createWriteStream("/tmp/rbench/naive.jsonl");
  for (const l of lines) if (!s.write(l + "\n")) await once(s, "drain");
  s.end(); await once(s, "finish");
  console.log("naive writeStream", ((performance.now() - t0) / 1000).toFixed(2) + "s");
  rmSync("/tmp/rbench/wg", { recursive: true, force: true });
  t0 = performance.now();
  const g = new ShardedJsonlWriter({ dir: "/tmp/rbench/wg", gzip: true });
  for (const l of lines.slice(0, 50000)) await g.writeLine(l);
  await g.close();
  console.log("gzip 50k", ((performance.now() - t0) / 1000).toFixed(2) + "s");
}
