import { existsSync, readdirSync, readFileSync, renameSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRng } from "@infialign/kernels";
import { selectBackend } from "@infialign/kernels/tfjs";
import * as tf from "@tensorflow/tfjs-core";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DataCursor } from "../src/core/checkpoint.js";
import { TrainingError } from "../src/core/errors.js";
import { type LossOutput, type MicroBatchSource, type TrainLoopOptions, trainLoop } from "../src/core/loop.js";
import { readMetrics } from "../src/core/metrics.js";
import { AdamW } from "../src/core/optimizer.js";
import { createSchedule } from "../src/core/schedule.js";

beforeAll(async () => {
  await selectBackend({ prefer: "cpu" });
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "core-loop-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Example {
  x: number[];
  y: number;
}

/** y = x·[1.5, −2, 0.5] + 0.3 + small noise, seeded. */
function dataset(n: number, seed: number): Example[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => {
    const x = [rng.nextGaussian(), rng.nextGaussian(), rng.nextGaussian()];
    return { x, y: 1.5 * x[0]! - 2 * x[1]! + 0.5 * x[2]! + 0.3 + 0.01 * rng.nextGaussian() };
  });
}

/** Fixed-order micro-batches of `size` examples over `epochs`; the cursor counts micro-batches into the epoch. */
class ArraySource implements MicroBatchSource<Example[]> {
  private epochIndex = 0;
  private position = 0;
  constructor(
    private readonly data: Example[],
    private readonly size: number,
    private readonly epochs: number,
  ) {}
  next(): Example[] | undefined {
    const perEpoch = Math.ceil(this.data.length / this.size);
    if (this.position >= perEpoch) {
      this.epochIndex += 1;
      this.position = 0;
    }
    if (this.epochIndex >= this.epochs) return undefined;
    const batch = this.data.slice(this.position * this.size, (this.position + 1) * this.size);
    this.position += 1;
    return batch;
  }
  cursor(): DataCursor {
    return { phase: 0, epoch: this.epochIndex, position: this.position };
  }
  seek(cursor: DataCursor): void {
    this.epochIndex = cursor.epoch;
    this.position = cursor.position;
  }
  epoch(): number {
    return this.epochIndex + (this.position * this.size) / this.data.length;
  }
}

function toyModel() {
  return new Map<string, tf.Variable>([
    ["linear.weight", tf.variable(tf.tensor2d([[0.1, 0.2, -0.1]]), true)],
    ["linear.bias", tf.variable(tf.tensor1d([0]), true)],
  ]);
}

/** Squared error summed over the micro-batch, divided by num_items_in_batch (see GradientAccumulator). */
function lossOf(vars: Map<string, tf.Variable>) {
  return (batch: Example[], { numItemsInBatch }: { numItemsInBatch: number }): LossOutput => {
    const x = tf.tensor2d(batch.map((e) => e.x));
    const y = tf.tensor1d(batch.map((e) => e.y));
    const pred = tf.add(tf.reshape(tf.matMul(x, vars.get("linear.weight")!, false, true), [-1]), vars.get("linear.bias")!);
    const err = tf.sub(pred, y);
    const loss = tf.div(tf.sum(tf.square(err)), numItemsInBatch) as tf.Scalar;
    // "accuracy": predictions within 0.5 of the target, normalised like the loss
    const within = tf.div(tf.sum(tf.cast(tf.less(tf.abs(err), 0.5), "float32")), numItemsInBatch) as tf.Scalar;
    return { loss, metrics: { mean_token_accuracy: within }, numTokens: batch.length };
  };
}

function options(vars: Map<string, tf.Variable>, overrides: Partial<TrainLoopOptions<Example[]>> & { batch: number; accumulation: number; outputDir: string }): TrainLoopOptions<Example[]> {
  const { batch, accumulation, ...rest } = overrides;
  let t = 0;
  return {
    variables: vars,
    computeLoss: lossOf(vars),
    countItems: (b) => b.length,
    source: new ArraySource(dataset(64, 7), batch, 10),
    optimizer: new AdamW(vars, { beta2: 0.95, weightDecay: 0.01 }),
    schedule: createSchedule({ type: "cosine", learningRate: 0.05, totalSteps: 12, warmupRatio: 0.1 }),
    maxSteps: 12,
    gradientAccumulationSteps: accumulation,
    logEvery: 1,
    progress: false,
    clock: () => (t += 100),
    ...rest,
  };
}

const weightsOf = (vars: Map<string, tf.Variable>) => [...vars.values()].flatMap((v) => Array.from(v.dataSync()));

describe("trainLoop on a toy linear regression", () => {
  it("drives the loss down and logs TRL names", async () => {
    const vars = toyModel();
    const tensorsBefore = tf.memory().numTensors;
    const result = await trainLoop(options(vars, { batch: 8, accumulation: 1, outputDir: dir, maxSteps: 40, schedule: createSchedule({ type: "constant", learningRate: 0.1, totalSteps: 40 }) }));
    expect(result.globalStep).toBe(40);
    // no leaked tensors: only AdamW's m and v for the two parameters remain
    expect(tf.memory().numTensors - tensorsBefore).toBe(4);
    const losses = result.logHistory.map((r) => r.loss as number);
    expect(losses).toHaveLength(40);
    expect(losses.at(-1)!).toBeLessThan(0.05 * losses[0]!);
    const last = result.logHistory.at(-1)!;
    expect(Object.keys(last).sort()).toEqual(["epoch", "grad_norm", "learning_rate", "loss", "mean_token_accuracy", "num_tokens", "step", "tokens_per_second"]);
    expect(last.num_tokens).toBe(320);
    expect(last.epoch).toBe(5);
    expect(last.mean_token_accuracy).toBeGreaterThan(0.9);
    // each step reads the clock once for the window: 8 tokens / 0.1 s
    expect(last.tokens_per_second).toBe(80);
    expect((await readMetrics(join(dir, "metrics.jsonl"))).map((r) => r.step)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(readdirSync(dir).sort()).toEqual(["checkpoint-40", "metrics.jsonl"]);
  });

  it("batch 1 × accumulation 8 equals batch 8 (same updates within float tolerance)", async () => {
    const a = toyModel();
    const b = toyModel();
    const ra = await trainLoop(options(a, { batch: 8, accumulation: 1, outputDir: join(dir, "a"), maxSteps: 6 }));
    const rb = await trainLoop(options(b, { batch: 1, accumulation: 8, outputDir: join(dir, "b"), maxSteps: 6 }));
    const wa = weightsOf(a);
    const wb = weightsOf(b);
    for (let i = 0; i < wa.length; i++) expect(wb[i]).toBeCloseTo(wa[i]!, 5);
    ra.logHistory.forEach((r, i) => {
      expect(rb.logHistory[i]!.loss).toBeCloseTo(r.loss as number, 5);
      expect(rb.logHistory[i]!.grad_norm).toBeCloseTo(r.grad_norm as number, 5);
      expect(rb.logHistory[i]!.mean_token_accuracy).toBeCloseTo(r.mean_token_accuracy as number, 6);
    });
    expect(wa[0]).not.toBeCloseTo(0.1, 2); // the weights did move
  });

  it("a run interrupted after its checkpoint and resumed follows the uninterrupted trajectory", async () => {
    const straight = toyModel();
    const full = await trainLoop(options(straight, { batch: 4, accumulation: 2, outputDir: join(dir, "full"), maxSteps: 12, checkpointEvery: 4 }));

    const crashed = toyModel();
    let calls = 0;
    const crashing = lossOf(crashed);
    const error = await trainLoop(
      options(crashed, {
        batch: 4,
        accumulation: 2,
        outputDir: join(dir, "resumed"),
        checkpointEvery: 4,
        computeLoss: (batch, ctx) => {
          calls += 1;
          if (calls === 2 * 6 + 1) throw new Error("killed");
          return crashing(batch, ctx);
        },
      }),
    ).catch((e: unknown) => e);
    expect((error as Error).message).toBe("killed");
    expect(readdirSync(join(dir, "resumed")).sort()).toEqual(["checkpoint-4", "metrics.jsonl"]);
    expect((await readMetrics(join(dir, "resumed", "metrics.jsonl"))).map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6]);

    const fresh = toyModel(); // a new process: initial weights, new optimizer and data source
    const resumed = await trainLoop(options(fresh, { batch: 4, accumulation: 2, outputDir: join(dir, "resumed"), maxSteps: 12, checkpointEvery: 4, resume: true }));
    expect(resumed.globalStep).toBe(12);
    const logged = await readMetrics(join(dir, "resumed", "metrics.jsonl"));
    expect(logged.map((r) => r.step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    full.logHistory.forEach((r, i) => {
      for (const key of ["loss", "grad_norm", "learning_rate", "mean_token_accuracy", "num_tokens", "epoch"]) {
        expect(logged[i]![key]).toBeCloseTo(r[key] as number, 6);
        expect(resumed.logHistory[i]![key]).toBeCloseTo(r[key] as number, 6);
      }
    });
    const ws = weightsOf(straight);
    weightsOf(fresh).forEach((w, i) => {
      expect(w).toBeCloseTo(ws[i]!, 6);
    });
  });

  it("saves the loss state in loss_state.json and restores it on resume; an older checkpoint's rng_state.json stands in for it", async () => {
    // A running count of the items seen, kept by the "loss" across steps.
    const counter = () => {
      let seen = 0;
      return { count: () => seen, hook: { state: () => ({ seen }), restore: (s: Record<string, unknown>) => (seen = s.seen as number) }, add: (n: number) => (seen += n) };
    };
    const run = (vars: Map<string, tf.Variable>, c: ReturnType<typeof counter>, outputDir: string, extra: Partial<TrainLoopOptions<Example[]>>) =>
      trainLoop(
        options(vars, {
          batch: 8,
          accumulation: 1,
          outputDir,
          maxSteps: 6,
          lossState: c.hook,
          computeLoss: (batch, ctx) => {
            c.add(batch.length);
            return lossOf(vars)(batch, ctx);
          },
          ...extra,
        }),
      );
    const first = counter();
    await run(toyModel(), first, join(dir, "a"), { maxSteps: 3, checkpointEvery: 3 });
    const checkpoint = join(dir, "a", "checkpoint-3");
    expect(JSON.parse(readFileSync(join(checkpoint, "loss_state.json"), "utf8"))).toEqual({ seen: 24 });
    expect(existsSync(join(checkpoint, "rng_state.json"))).toBe(false);

    const resumed = counter();
    await run(toyModel(), resumed, join(dir, "a"), { resume: true });
    expect(resumed.count()).toBe(48);

    // The layout before loss_state.json: the same state in rng_state.json.
    renameSync(join(checkpoint, "loss_state.json"), join(checkpoint, "rng_state.json"));
    const legacy = counter();
    await run(toyModel(), legacy, join(dir, "legacy"), { resume: checkpoint });
    expect(legacy.count()).toBe(48);
  });

  it("an abort signal stops after the current step with a checkpoint; resuming completes the same run", async () => {
    const straight = toyModel();
    const full = await trainLoop(options(straight, { batch: 8, accumulation: 1, outputDir: join(dir, "full"), maxSteps: 8 }));
    const vars = toyModel();
    const controller = new AbortController();
    const stopped = await trainLoop(
      options(vars, {
        batch: 8,
        accumulation: 1,
        outputDir: join(dir, "stopped"),
        maxSteps: 8,
        checkpointEvery: 5,
        onLog: (record) => {
          if (record.step === 3) controller.abort();
        },
        signal: controller.signal,
      }),
    );
    expect(stopped).toMatchObject({ globalStep: 3, interrupted: true, lastCheckpoint: join(dir, "stopped", "checkpoint-3") });
    const fresh = toyModel();
    const resumed = await trainLoop(options(fresh, { batch: 8, accumulation: 1, outputDir: join(dir, "stopped"), maxSteps: 8, resume: true }));
    expect(resumed.interrupted).toBe(false);
    expect(resumed.logHistory.map((r) => r.loss)).toEqual(full.logHistory.map((r) => r.loss));
  });

  it("skips a step with a non-finite loss without touching the weights, aborts with a checkpoint after 3 in a row", async () => {
    const vars = toyModel();
    const base = lossOf(vars);
    let poisoned = new Set([3]);
    const warnings: string[] = [];
    const weightsBefore = new Map<number, number[]>();
    const result = await trainLoop(
      options(vars, {
        batch: 8,
        accumulation: 1,
        outputDir: join(dir, "skip"),
        maxSteps: 4,
        guard: { warn: (m) => warnings.push(m) },
        computeLoss: (batch, ctx) => {
          weightsBefore.set(ctx.step + 1, weightsOf(vars));
          const out = base(batch, ctx);
          return poisoned.has(ctx.step + 1) ? { ...out, loss: tf.mul(out.loss, Number.NaN) as tf.Scalar } : out;
        },
      }),
    );
    expect(result.skippedSteps).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/step 3: non-finite loss=NaN/);
    expect(weightsBefore.get(4)).toEqual(weightsBefore.get(3));
    expect(weightsBefore.get(3)).not.toEqual(weightsBefore.get(2));
    expect(Number.isNaN(result.logHistory[2]!.loss)).toBe(true);
    expect(result.logHistory[3]!.loss).toBeGreaterThan(0);

    poisoned = new Set([2, 3, 4]);
    const before: number[] = [];
    const error = await trainLoop(
      options(vars, {
        batch: 8,
        accumulation: 1,
        outputDir: join(dir, "abort"),
        maxSteps: 10,
        guard: { warn: () => {} },
        computeLoss: (batch, ctx) => {
          if (ctx.step === 1) before.push(...weightsOf(vars));
          const out = base(batch, ctx);
          return poisoned.has(ctx.step + 1) ? { ...out, loss: tf.mul(out.loss, Number.NaN) as tf.Scalar } : out;
        },
      }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingError);
    expect((error as Error).message).toMatch(/step 4: 3 consecutive .* saved to .*checkpoint-3/);
    // the skipped steps 2–3 did not move the weights: the abort checkpoint holds the weights after step 1
    expect(weightsOf(vars)).toEqual(before);
  });

  it("logs eval_ metrics every evalEvery steps and validates options", async () => {
    const vars = toyModel();
    const held = dataset(16, 99);
    const result = await trainLoop(
      options(vars, {
        batch: 8,
        accumulation: 1,
        outputDir: dir,
        maxSteps: 4,
        logEvery: 2,
        evalEvery: 2,
        evaluate: () => {
          const out = lossOf(vars)(held, { numItemsInBatch: held.length });
          const loss = out.loss.dataSync()[0]!;
          tf.dispose([out.loss, ...Object.values(out.metrics ?? {})]);
          return { loss };
        },
      }),
    );
    expect(result.logHistory.map((r) => [r.step, "eval_loss" in r])).toEqual([[2, false], [2, true], [4, false], [4, true]]);
    expect(result.logHistory[3]!.eval_loss as number).toBeLessThan(result.logHistory[1]!.eval_loss as number);
    // TRL: eval records carry the training tokens seen so far as eval_num_tokens.
    for (const at of [1, 3]) expect(result.logHistory[at]!.eval_num_tokens).toBe(result.logHistory[at - 1]!.num_tokens);
    expect(result.logHistory[3]!.eval_num_tokens as number).toBeGreaterThan(result.logHistory[1]!.eval_num_tokens as number);
    expect(result.numTokens).toBe(result.logHistory[2]!.num_tokens);
    await expect(trainLoop(options(vars, { batch: 8, accumulation: 0, outputDir: dir, logEvery: 0 }))).rejects.toThrow(/gradientAccumulationSteps=0.*logEvery=0/);
  });
});

/** The same loss as lossOf, with host gradients computed by tfjs: a stand-in for a training engine. */
function gradientsOf(vars: Map<string, tf.Variable>) {
  const loss = lossOf(vars);
  return (batch: Example[], context: { numItemsInBatch: number; step: number; micro: number }) => {
    const names = [...vars.keys()];
    let value = 0;
    let accuracy = 0;
    const { value: lossTensor, grads } = tf.variableGrads(() => {
      const out = loss(batch, context);
      accuracy = (out.metrics!.mean_token_accuracy as tf.Scalar).dataSync()[0]!;
      return out.loss;
    }, [...vars.values()]);
    value = lossTensor.dataSync()[0]!;
    lossTensor.dispose();
    const nameOf = new Map(names.map((n) => [vars.get(n)!.name, n]));
    const host = new Map(Object.entries(grads).map(([k, g]) => [nameOf.get(k)!, { shape: [...g.shape], data: Float32Array.from(g.dataSync() as Float32Array) }]));
    tf.dispose(Object.values(grads));
    return { loss: value, metrics: { mean_token_accuracy: accuracy }, numTokens: batch.length, grads: host };
  };
}

describe("trainLoop with computeGradients (host gradients from an engine)", () => {
  it("follows the tfjs path's trajectory, accumulation included, and leaves no moments in the backend", async () => {
    for (const accumulation of [1, 4]) {
      const a = toyModel();
      const b = toyModel();
      const viaTfjs = await trainLoop(options(a, { batch: 8 / accumulation, accumulation, outputDir: join(dir, `tfjs-${accumulation}`) }));
      const before = tf.memory().numTensors;
      const viaHost = await trainLoop({ ...options(b, { batch: 8 / accumulation, accumulation, outputDir: join(dir, `host-${accumulation}`) }), computeLoss: undefined, computeGradients: gradientsOf(b) });
      expect(tf.memory().numTensors).toBe(before);
      expect(viaHost.logHistory.map((r) => r.step)).toEqual(viaTfjs.logHistory.map((r) => r.step));
      viaHost.logHistory.forEach((r, i) => {
        expect(r.loss as number).toBeCloseTo(viaTfjs.logHistory[i]!.loss as number, 5);
        expect(r.grad_norm as number).toBeCloseTo(viaTfjs.logHistory[i]!.grad_norm as number, 5);
      });
      const wa = weightsOf(a);
      for (const [i, w] of weightsOf(b).entries()) expect(w).toBeCloseTo(wa[i]!, 5);
    }
  });

  it("rejects options with both or neither of computeLoss and computeGradients", async () => {
    const vars = toyModel();
    await expect(trainLoop({ ...options(vars, { batch: 8, accumulation: 1, outputDir: dir }), computeGradients: gradientsOf(vars) })).rejects.toThrow(/exactly one of computeLoss and computeGradients/);
    await expect(trainLoop({ ...options(vars, { batch: 8, accumulation: 1, outputDir: dir }), computeLoss: undefined })).rejects.toThrow(TrainingError);
  });
});
