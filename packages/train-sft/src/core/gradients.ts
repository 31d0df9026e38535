// Gradient plumbing shared by the trainers: global-norm clipping, non-finite detection and accumulation.
import * as tf from "@tensorflow/tfjs-core";
import { TrainingError } from "./errors.js";

/** Gradients by parameter name. */
export type NamedGrads = Map<string, tf.Tensor>;

/** √(Σ over all gradients of Σ g²): torch `clip_grad_norm_`'s total 2-norm. NaN/Infinity when any entry is. */
export function globalNorm(grads: NamedGrads): number {
  if (grads.size === 0) return 0;
  const total = tf.tidy(() => {
    const squares = [...grads.values()].map((g) => tf.sum(tf.square(g.dtype === "float32" ? g : tf.cast(g, "float32"))));
    return tf.sqrt(tf.addN(squares));
  });
  const value = total.dataSync()[0]!;
  total.dispose();
  return value;
}

export interface ClipResult {
  /** Total norm before clipping: what TRL/HF log as `grad_norm`. */
  norm: number;
  /** The (possibly scaled) gradients; the input tensors were disposed when scaled. */
  grads: NamedGrads;
  /** Whether the gradients were scaled down. */
  clipped: boolean;
}

/**
 * torch `nn.utils.clip_grad_norm_(max_norm)` (torch/nn/utils/clip_grad.py): every gradient is multiplied by
 * min(1, maxNorm / (norm + 1e-6)). Takes ownership of `grads` (scaled ones replace and dispose them). A non-finite norm is
 * returned as is and nothing is scaled: the caller (see NonFiniteGuard) skips the step instead of writing NaNs.
 * @param norm the gradients' global norm when already computed. @default globalNorm(grads)
 */
export function clipGradNorm(grads: NamedGrads, maxNorm: number, norm: number = globalNorm(grads)): ClipResult {
  if (!(maxNorm > 0)) throw new TrainingError("gradients", `clipGradNorm: maxNorm=${maxNorm} (expected > 0; disable clipping by not calling it).`);
  // torch multiplies by min(1, coef), so a norm just below maxNorm (within 1e-6) is scaled too.
  const coef = maxNorm / (norm + 1e-6);
  if (!Number.isFinite(norm) || coef >= 1) return { norm, grads, clipped: false };
  const scaled: NamedGrads = new Map();
  for (const [name, g] of grads) {
    scaled.set(name, tf.mul(g, coef));
    g.dispose();
  }
  return { norm, grads: scaled, clipped: true };
}

/**
 * Sums the gradients of the micro-batches of one optimizer step.
 *
 * Equivalence with one big batch (what HF Trainer and TRL do with `num_items_in_batch`): a token-mean loss over the
 * whole accumulated batch is Σ_micro Σ_tokens ℓ / N, N = the number of loss tokens (labels ≠ −100) in *all* k
 * micro-batches. So each micro-batch's loss must be its token *sum* divided by that same N (not its own token mean,
 * which would weight short micro-batches up); summing their gradients then gives exactly the big-batch gradient.
 * Count N first with {@link countItemsInBatch}, then pass it to each micro-batch's loss. For losses that average
 * over sequences (DPO pairs), N is the number of pairs. `add(grads, scale)` also allows the other convention (each
 * micro-batch a mean, scale = its share) when N cannot be known in advance.
 */
export class GradientAccumulator {
  private sums: NamedGrads = new Map();
  private added = 0;

  /** Micro-batches added since the last `take()`. */
  get count(): number {
    return this.added;
  }

  /** Adds `scale` × grads to the running sums. Takes ownership of `grads` (they are disposed). */
  add(grads: NamedGrads, scale = 1): void {
    for (const [name, g] of grads) {
      const scaled = scale === 1 ? g : tf.tidy(() => tf.mul(g, scale));
      if (scaled !== g) g.dispose();
      const previous = this.sums.get(name);
      if (previous === undefined) this.sums.set(name, scaled);
      else {
        this.sums.set(name, tf.add(previous, scaled));
        previous.dispose();
        scaled.dispose();
      }
    }
    this.added += 1;
  }

  /** The sums (divided by `divisor`), handing ownership to the caller, and resets. */
  take(divisor = 1): NamedGrads {
    if (!(divisor > 0)) throw new TrainingError("gradients", `GradientAccumulator.take: divisor=${divisor} (expected > 0).`);
    let out = this.sums;
    if (divisor !== 1) {
      out = new Map();
      for (const [name, g] of this.sums) {
        out.set(name, tf.div(g, divisor));
        g.dispose();
      }
    }
    this.sums = new Map();
    this.added = 0;
    return out;
  }

  /** Drops the running sums (e.g. after a skipped step). */
  reset(): void {
    for (const g of this.sums.values()) g.dispose();
    this.sums = new Map();
    this.added = 0;
  }
}

/** HF `num_items_in_batch`: the loss items (tokens with label ≠ −100, or pairs) in all micro-batches of one step. */
export function countItemsInBatch<B>(microBatches: readonly B[], countItems: (batch: B) => number): number {
  return microBatches.reduce((total, batch) => total + countItems(batch), 0);
}

/** Host gradients by name (a training engine's output). */
export type HostGrads = Map<string, { shape: number[]; data: Float32Array }>;

/** {@link globalNorm} of host gradients, summed in float64. */
export function hostGlobalNorm(grads: HostGrads): number {
  let sum = 0;
  for (const g of grads.values()) for (const x of g.data) sum += x * x;
  return Math.sqrt(sum);
}

/** Adds `more` into `into` in place (same names and sizes); names only in `more` are moved over. */
export function addHostGrads(into: HostGrads, more: HostGrads): void {
  for (const [name, g] of more) {
    const target = into.get(name);
    if (target === undefined) {
      into.set(name, g);
      continue;
    }
    if (target.data.length !== g.data.length) throw new TrainingError("gradients", `addHostGrads: "${name}" has ${g.data.length} values, the sum ${target.data.length}.`);
    const a = target.data;
    const b = g.data;
    for (let i = 0; i < a.length; i++) a[i] = (a[i] as number) + (b[i] as number);
  }
}
