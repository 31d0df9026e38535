import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";

/**
 * The line protocol of the project's checking CLIs: one JSON line out per non-blank
 * line in, in order. Output is batched, since a write per line would dominate the
 * cost of cheap checks.
 */
export async function mapJsonLines(input: Readable, output: Writable, answer: (line: string) => unknown): Promise<void> {
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let batch: string[] = [];
  const flush = () => {
    if (batch.length) output.write(batch.join(""));
    batch = [];
  };
  for await (const line of lines) {
    if (!line.trim()) continue;
    batch.push(`${JSON.stringify(answer(line))}\n`);
    if (batch.length >= 256) flush();
  }
  flush();
}
