// AdamW, Loshchilov & Hutter 2019 ("Decoupled Weight Decay Regularization", Algorithm 2), in the form of
// torch.optim.AdamW (torch/optim/adamw.py, single-tensor path, amsgrad off):
//   θ ← θ − lr·λ·θ;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
//   θ ← θ − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε)
// t counts the updates a parameter has received (torch keeps `state["step"]` per parameter).
import { adamwUpdate } from "@infialign/kernels";
import type { NamedTensors } from "@infialign/model";
import * as tf from "@tensorflow/tfjs-core";
import { TrainingError } from "./errors.js";
import type { NamedVariables } from "./tensors.js";

/**
 * Hugging Face Trainer's `get_decay_parameter_names` name patterns (transformers `trainer.py`): no weight decay for
 * biases and LayerNorm/RMSNorm weights. Matched against the lower-cased full parameter name.
 */
export const NO_DECAY_PATTERNS: readonly RegExp[] = [/bias/, /layernorm/, /rmsnorm/, /(?:^|\.)norm(?:$|\.)/, /_norm(?:$|\.)/];

/** Whether a parameter gets weight decay, as HF Trainer decides it (`model.norm.weight`, `*.input_layernorm.weight`, `*.bias`: no). */
export function defaultDecayPredicate(name: string): boolean {
  const lower = name.toLowerCase();
  return !NO_DECAY_PATTERNS.some((pattern) => pattern.test(lower));
}

export interface AdamWOptions {
  /** Exponential decay of the first moment (β1). @default 0.9 */
  beta1?: number;
  /** Exponential decay of the second moment (β2); InfiAlign/InfiR2 use 0.95. @default 0.999 */
  beta2?: number;
  /** Added to the bias-corrected √v for stability (ε). @default 1e-8 */
  epsilon?: number;
  /** Decoupled weight decay λ, multiplied by the learning rate (HF TrainingArguments `weight_decay`). @default 0 */
  weightDecay?: number;
  /** Which parameters get weight decay. @default defaultDecayPredicate (HF: not biases, not norm weights) */
  decay?: (name: string) => boolean;
}

/** Optimizer state on the host, for checkpoints: torch names `exp_avg` (m) and `exp_avg_sq` (v). */
export interface AdamWState {
  /** Optimizer steps taken (updates applied). */
  step: number;
  /** Per-parameter update count t (a parameter without a gradient at a step is not updated, as in torch). */
  paramSteps: Map<string, number>;
  expAvg: NamedTensors;
  expAvgSq: NamedTensors;
}

/** Moments live where the last update ran: tfjs variables for {@link AdamW.step}, host arrays for {@link AdamW.stepHost}. */
interface ParamState {
  step: number;
  m: tf.Variable | Float32Array;
  v: tf.Variable | Float32Array;
  /**
   * {@link AdamW.stepHost}'s persistent host copy of the parameter (not optimizer state), valid while the variable
   * still holds `thetaId`, the data id of our last assign; any other assign (step, checkpoint restore, user code)
   * changes the variable's data id and forces a re-read.
   */
  theta?: Float32Array;
  thetaId?: object;
}

const hostCopy = (t: tf.Variable | Float32Array): Float32Array => (t instanceof Float32Array ? Float32Array.from(t) : Float32Array.from(t.dataSync() as Float32Array));

/**
 * AdamW over named tfjs variables; moments are float32 created lazily on a parameter's first gradient. `step` updates
 * with tfjs ops (gradients as tensors), `stepHost` with one fused loop on the host (gradients from a training engine as
 * host arrays), which keeps the moments out of the tfjs backend's memory.
 */
export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  private readonly decays: Map<string, boolean>;
  private readonly params = new Map<string, ParamState>();
  private steps = 0;

  constructor(
    readonly variables: NamedVariables,
    options: AdamWOptions = {},
  ) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    const bad: string[] = [];
    if (!(this.beta1 >= 0 && this.beta1 < 1)) bad.push(`beta1=${this.beta1} (expected 0 ≤ beta1 < 1)`);
    if (!(this.beta2 >= 0 && this.beta2 < 1)) bad.push(`beta2=${this.beta2} (expected 0 ≤ beta2 < 1)`);
    if (!(this.epsilon >= 0)) bad.push(`epsilon=${this.epsilon} (expected ≥ 0)`);
    if (!(this.weightDecay >= 0)) bad.push(`weightDecay=${this.weightDecay} (expected ≥ 0)`);
    if (bad.length > 0) throw new TrainingError("adamw", `invalid options: ${bad.join("; ")}.`);
    const decay = options.decay ?? defaultDecayPredicate;
    this.decays = new Map([...variables.keys()].map((name) => [name, decay(name)]));
  }

  /** Optimizer steps taken so far. */
  get stepCount(): number {
    return this.steps;
  }

  /** Names of the parameters that get weight decay (for logs and tests). */
  decayedNames(): string[] {
    return [...this.decays].filter(([, d]) => d).map(([name]) => name);
  }

  /**
   * One update with learning rate `lr`. Parameters absent from `grads` are left untouched (no decay, no moment update),
   * as torch skips parameters whose `.grad` is None. The gradients are read, not disposed.
   */
  step(grads: Map<string, tf.Tensor>, lr: number): void {
    for (const name of grads.keys()) {
      if (!this.variables.has(name)) {
        throw new TrainingError("adamw", `step: gradient for "${name}", which is not a parameter of this optimizer (expected one of ${this.variables.size} names such as "${this.variables.keys().next().value}").`);
      }
    }
    for (const [name, grad] of grads) {
      const variable = this.variables.get(name)!;
      let state = this.params.get(name);
      if (state === undefined) {
        state = { step: 0, m: ownedVariable(tf.zerosLike(variable)), v: ownedVariable(tf.zerosLike(variable)) };
        this.params.set(name, state);
      }
      if (state.m instanceof Float32Array) state.m = ownedVariable(tf.tensor(state.m, variable.shape, "float32"));
      if (state.v instanceof Float32Array) state.v = ownedVariable(tf.tensor(state.v, variable.shape, "float32"));
      // This path assigns the variable itself: free stepHost's now stale host copy.
      state.theta = undefined;
      state.thetaId = undefined;
      state.step += 1;
      const t = state.step;
      const m = state.m as tf.Variable;
      const v = state.v as tf.Variable;
      const bias1 = 1 - this.beta1 ** t;
      const bias2Sqrt = Math.sqrt(1 - this.beta2 ** t);
      const decay = this.decays.get(name)! ? lr * this.weightDecay : 0;
      tf.tidy(() => {
        const g = grad.dtype === "float32" ? grad : tf.cast(grad, "float32");
        const mNew = tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1));
        const vNew = tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        m.assign(mNew);
        v.assign(vNew);
        const theta = decay !== 0 ? tf.mul(variable, 1 - decay) : variable;
        const denom = tf.add(tf.div(tf.sqrt(vNew), bias2Sqrt), this.epsilon);
        variable.assign(tf.sub(theta, tf.mul(tf.div(mNew, denom), lr / bias1)));
      });
    }
    this.steps += 1;
  }

  /**
   * {@link step} with host gradients (HF names and shapes, as a training engine returns them), the same update in one
   * pass per parameter over Float32Arrays: a persistent host copy of the parameter is updated in place and assigned to
   * its variable; it is re-read only when the variable was assigned by someone else since.
   */
  stepHost(grads: ReadonlyMap<string, { shape: number[]; data: Float32Array }>, lr: number): void {
    for (const [name, grad] of grads) {
      const variable = this.variables.get(name);
      if (variable === undefined) {
        throw new TrainingError("adamw", `stepHost: gradient for "${name}", which is not a parameter of this optimizer (expected one of ${this.variables.size} names such as "${this.variables.keys().next().value}").`);
      }
      if (grad.data.length !== variable.size) throw new TrainingError("adamw", `stepHost: gradient for "${name}" has ${grad.data.length} values; the parameter has ${variable.size}.`);
    }
    for (const [name, grad] of grads) {
      const variable = this.variables.get(name)!;
      let state = this.params.get(name);
      if (state === undefined) {
        state = { step: 0, m: new Float32Array(variable.size), v: new Float32Array(variable.size) };
        this.params.set(name, state);
      }
      if (!(state.m instanceof Float32Array)) {
        const tensor = state.m;
        state.m = hostCopy(tensor);
        tensor.dispose();
      }
      if (!(state.v instanceof Float32Array)) {
        const tensor = state.v;
        state.v = hostCopy(tensor);
        tensor.dispose();
      }
      state.step += 1;
      // Copy: the cpu backend's dataSync returns its own buffer.
      if (state.theta === undefined || state.thetaId !== variable.dataId) state.theta = Float32Array.from(variable.dataSync() as Float32Array);
      const theta = state.theta;
      adamwUpdate(theta, grad.data, state.m, state.v, { lr, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, weightDecay: this.decays.get(name)! ? this.weightDecay : 0, step: state.step });
      // Only wasm copies the array into its heap; cpu keeps it and tfjs-node keeps it until first use, so the tensor
      // would alias the copy we update in place next step.
      const updated = tf.tensor(tf.getBackend() === "wasm" ? theta : theta.slice(), variable.shape, "float32");
      variable.assign(updated);
      updated.dispose();
      state.thetaId = variable.dataId;
    }
    this.steps += 1;
  }

  /** Host copy of the state (for `optimizer.safetensors`). */
  state(): AdamWState {
    const paramSteps = new Map<string, number>();
    const expAvg: NamedTensors = new Map();
    const expAvgSq: NamedTensors = new Map();
    for (const [name, s] of this.params) {
      paramSteps.set(name, s.step);
      const shape = [...(this.variables.get(name) as tf.Variable).shape];
      expAvg.set(name, { shape, data: hostCopy(s.m) });
      expAvgSq.set(name, { shape: [...shape], data: hostCopy(s.v) });
    }
    return { step: this.steps, paramSteps, expAvg, expAvgSq };
  }

  /** Replaces the state with a saved one; every named parameter must exist with the saved shape. */
  loadState(state: AdamWState, source = "optimizer state"): void {
    const problems: string[] = [];
    for (const [name, t] of state.paramSteps) {
      const variable = this.variables.get(name);
      const m = state.expAvg.get(name);
      const v = state.expAvgSq.get(name);
      if (variable === undefined) problems.push(`"${name}" is not a parameter of the model`);
      else if (m === undefined || v === undefined) problems.push(`"${name}" lacks exp_avg or exp_avg_sq`);
      else if (!Number.isInteger(t) || t < 1) problems.push(`"${name}" has step ${t} (expected an integer ≥ 1)`);
      else {
        const want = variable.shape.join(",");
        if (m.shape.join(",") !== want || v.shape.join(",") !== want) {
          problems.push(`"${name}" moments have shape [${m.shape.join(", ")}], expected [${variable.shape.join(", ")}]`);
        }
      }
    }
    if (problems.length > 0) throw new TrainingError("adamw", `loadState: ${source} does not match the model: ${problems.join("; ")}.`);
    // Also drops stepHost's host weight copies: the next stepHost re-reads the variables.
    this.disposeMoments();
    for (const [name, t] of state.paramSteps) {
      const m = state.expAvg.get(name)!;
      const v = state.expAvgSq.get(name)!;
      this.params.set(name, {
        step: t,
        m: ownedVariable(tf.tensor(Float32Array.from(m.data), m.shape, "float32")),
        v: ownedVariable(tf.tensor(Float32Array.from(v.data), v.shape, "float32")),
      });
    }
    this.steps = state.step;
  }

  /** Frees the moment variables and host weight copies (the model's variables are not touched). */
  dispose(): void {
    this.disposeMoments();
  }

  private disposeMoments(): void {
    for (const s of this.params.values()) {
      if (!(s.m instanceof Float32Array)) s.m.dispose();
      if (!(s.v instanceof Float32Array)) s.v.dispose();
    }
    this.params.clear();
  }
}

/** A non-trainable variable holding `initial`'s data; the temporary tensor is released (the variable keeps the data). */
function ownedVariable(initial: tf.Tensor): tf.Variable {
  const variable = tf.variable(initial, false);
  initial.dispose();
  return variable;
}
