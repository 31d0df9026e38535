import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";

/**
 * The line protocol of the project's checking CLIs: one JSON line out per non-blank
 * line in, in order. Output is batched, since a write per line would dominate the
 * cost of cheap checks.
 */
export async function mapJsonLines(input: Readable, output: Writable, answer: (line: string) => unknown): Promise<void> {
  await mapJsonLinesBatched(input, output, (lines) => lines.map(answer));
}

/** `mapJsonLines` answering `batchSize` lines per call: for checks that are cheaper in bulk (one embedding call per batch). */
export async function mapJsonLinesBatched(
  input: Readable,
  output: Writable,
  answerBatch: (lines: readonly string[]) => readonly unknown[] | Promise<readonly unknown[]>,
  batchSize = 256,
): Promise<void> {
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let batch: string[] = [];
  const flush = async () => {
    if (batch.length) output.write((await answerBatch(batch)).map((a) => `${JSON.stringify(a)}\n`).join(""));
    batch = [];
  };
  for await (const line of lines) {
    if (!line.trim()) continue;
    batch.push(line);
    if (batch.length >= batchSize) await flush();
  }
  await flush();
}
