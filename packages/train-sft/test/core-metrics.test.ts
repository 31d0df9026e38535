import { appendFileSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTrainProgress, MetricsLogger, readMetrics, ThroughputMeter } from "../src/core/metrics.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "core-metrics-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("MetricsLogger", () => {
  it("writes one JSON line per record with TRL names", async () => {
    const path = join(dir, "run", "metrics.jsonl");
    const log = await MetricsLogger.open(path);
    await log.log({ step: 1, epoch: 0.1, loss: 2.5, learning_rate: 1e-5, grad_norm: 0.8, mean_token_accuracy: 0.25, num_tokens: 100, entropy: 3.1, tokens_per_second: 50 });
    await log.log({ step: 2, loss: 2.0, extra: undefined });
    await log.close();
    const lines = readFileSync(path, "utf8").split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe("");
    expect(JSON.parse(lines[0]!)).toEqual({ step: 1, epoch: 0.1, loss: 2.5, learning_rate: 1e-5, grad_norm: 0.8, mean_token_accuracy: 0.25, num_tokens: 100, entropy: 3.1, tokens_per_second: 50 });
    expect(lines[1]).toBe('{"step":2,"loss":2}');
    await expect(log.log({ step: 3 })).rejects.toThrow(/after close/);
  });

  it("resuming drops records after the checkpoint step and a torn last line, then appends", async () => {
    const path = join(dir, "metrics.jsonl");
    const first = await MetricsLogger.open(path);
    for (let step = 1; step <= 5; step++) await first.log({ step, loss: 10 - step });
    await first.log({ step: 5, eval_loss: 4.5 });
    await first.close();
    appendFileSync(path, '{"step":6,"lo');
    await expect(readMetrics(path)).rejects.toThrow(/line 7 is not a metrics record/);
    const resumed = await MetricsLogger.open(path, { resumeFromStep: 3 });
    await resumed.log({ step: 4, loss: 6 });
    await resumed.close();
    expect((await readMetrics(path)).map((r) => [r.step, r.loss])).toEqual([[1, 9], [2, 8], [3, 7], [4, 6]]);
  });

  it("a new run (no resumeFromStep) starts an empty file", async () => {
    const path = join(dir, "metrics.jsonl");
    const a = await MetricsLogger.open(path);
    await a.log({ step: 1 });
    await a.close();
    const b = await MetricsLogger.open(path);
    await b.close();
    expect(readFileSync(path, "utf8")).toBe("");
  });
});

describe("ThroughputMeter and progress", () => {
  it("tokens per second over each window, from an injected clock", () => {
    let now = 1000;
    const meter = new ThroughputMeter(() => now);
    meter.add(300);
    meter.add(200);
    now = 3000;
    expect(meter.sample()).toBe(250);
    expect(meter.sample()).toBe(0);
    meter.add(10);
    now = 3500;
    expect(meter.sample()).toBe(20);
  });

  it("a disabled progress reporter is silent", () => {
    const progress = createTrainProgress({ enabled: false });
    progress.start(10, "sft");
    progress.update(1, 100);
    progress.stop();
  });
});
