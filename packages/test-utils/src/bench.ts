// Benchmarks that measure memory run each case in a child process of their own script, so the peak RSS (and the wasm
// heap, which never shrinks) belongs to that case alone.
import { spawnSync } from "node:child_process";

export type BenchChildResult<T> = { value: T } | { error: string };

/**
 * Runs `node ...args` and reads the child's result: the JSON on the last line of its stdout. A failed child (out of
 * memory, a missing optional engine) gives the most telling line of its stderr instead, so one case cannot lose the
 * rows of the others.
 */
export function runBenchChild<T>(args: readonly string[]): BenchChildResult<T> {
  const child = spawnSync(process.execPath, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 1 << 24 });
  if (child.status !== 0) {
    const stderr = child.stderr || String(child.error ?? `exit ${child.status ?? child.signal}`);
    // The thrown error's own line, not a minified source line that merely contains "Error" (wasm glue code is printed
    // above the stack).
    const lines = stderr.split("\n").map((line) => line.trim());
    const reason = lines.find((line) => /^(\w*Error\b|Aborted\b|RuntimeError\b)/.test(line)) ?? lines.find((line) => /out of memory|abort/i.test(line)) ?? stderr.slice(-200);
    return { error: reason.trim().slice(0, 500) };
  }
  return { value: JSON.parse(child.stdout.trim().split("\n").at(-1) as string) as T };
}
