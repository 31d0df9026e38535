import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { createProgressLine, noProgress, normalizeStage, type ProgressReporter, resolveInputs, runPipeline, type Sample, type Stage, shouldShowProgress } from "../src/index.js";

const quiet = { info() {}, warn() {}, debug() {} };

/** A terminal stand-in: a TTY 200 columns wide whose output is kept. */
class FakeTty extends Writable {
  readonly isTTY = true;
  readonly columns = 200;
  text = "";
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
  /** The last frame drawn: what follows the last carriage return or cursor move, escape codes removed. */
  lastFrame(): string {
    const frames = this.text.split(/\r|\x1b\[\d*G/).map((f) => f.replace(/\x1b(\[[\d;?]*[A-Za-z]|[78])/g, "").trim());
    return frames.filter(Boolean).at(-1) ?? "";
  }
}

/** A pass-through stage that reports its own progress: one unit of work per record, out of `total`. */
function countingStage(total: number, opts: { stop?: boolean } = {}): Stage<Sample, Sample, { total: number }> {
  return {
    name: "count",
    params: { total },
    async *run(records, ctx) {
      ctx.progress.start(total, "checks");
      let n = 0;
      for await (const s of records) {
        ctx.progress.update(++n);
        yield s;
      }
      if (opts.stop ?? true) ctx.progress.stop();
    },
  };
}

type Event = [stage: string, role: string, call: string, ...args: unknown[]];

function recorder(events: Event[]) {
  return (stage: string, role: "input" | "stage"): ProgressReporter => ({
    start: (total, label) => events.push([stage, role, "start", total, label]),
    update: (done) => events.push([stage, role, "update", done]),
    stop: () => events.push([stage, role, "stop"]),
  });
}

async function pool(n: number): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), "infialign-progress-"));
  const file = join(dir, "gsm.jsonl");
  const rows = Array.from({ length: n }, (_, i) => JSON.stringify({ question: `What is ${i} + 1?`, answer: `${i} + 1 = ${i + 1}\n#### ${i + 1}` }));
  await writeFile(file, `${rows.join("\n")}\n`);
  return { dir, file };
}

describe("StageContext.progress", () => {
  const ci = process.env.CI;
  afterEach(() => {
    if (ci === undefined) delete process.env.CI;
    else process.env.CI = ci;
  });

  it("delivers a stage's own reports to its reporter, next to the input's", async () => {
    const { dir, file } = await pool(5);
    const events: Event[] = [];
    await runPipeline({ name: "p", runsDir: join(dir, "runs"), source: { files: await resolveInputs(file) }, stages: [normalizeStage(), countingStage(5)], logger: quiet, progress: recorder(events) });
    const own = events.filter(([stage, role]) => stage === "count" && role === "stage").map(([, , ...rest]) => rest);
    expect(own).toEqual([["start", 5, "checks"], ...[1, 2, 3, 4, 5].map((n) => ["update", n]), ["stop"]]);
    // normalize reports nothing of its own; the input bar belongs to the first stage that runs.
    expect(events.filter(([stage, role]) => stage === "normalize" && role === "stage")).toEqual([]);
    const input = events.filter(([, role]) => role === "input");
    expect(input[0]).toEqual(["normalize", "input", "start", expect.any(Number), "normalize"]);
    expect(input.at(-1)).toEqual(["normalize", "input", "stop"]);
  });

  it("is stopped when the stage ends, even if the stage did not stop it", async () => {
    const { dir, file } = await pool(3);
    const events: Event[] = [];
    await runPipeline({ name: "p", runsDir: join(dir, "runs"), source: { files: await resolveInputs(file) }, stages: [normalizeStage(), countingStage(3, { stop: false })], logger: quiet, progress: recorder(events) });
    expect(events.filter(([stage, role, call]) => stage === "count" && role === "stage" && call === "stop")).toHaveLength(1);
  });

  it("draws the stage's figures (records/s, ETA) on the pipeline's line on a TTY", () => {
    const tty = new FakeTty();
    let clock = 1_000;
    const line = createProgressLine({ enabled: true, stream: tty, now: () => clock });
    line.input.start(undefined, "normalize");
    const stage = line.stage("teacher");
    stage.start(10, "replies");
    clock += 2_000;
    line.input.update(8);
    stage.update(4);
    stage.stop();
    line.input.stop();
    expect(tty.lastFrame()).toBe("normalize | 8 rec | 4 rec/s  ·  teacher: replies 4/10 · 2 rec/s · ETA 3s");
  });

  it("stays quiet under CI=true, even on a TTY", () => {
    process.env.CI = "true";
    const tty = new FakeTty();
    expect(shouldShowProgress(tty)).toBe(false);
    const line = createProgressLine({ stream: tty });
    expect(line.input).toBe(noProgress);
    expect(line.stage("teacher")).toBe(noProgress);
    process.env.CI = "false";
    expect(shouldShowProgress(tty)).toBe(true);
  });
});
