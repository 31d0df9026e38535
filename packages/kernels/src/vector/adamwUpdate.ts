// One AdamW update of a parameter held on the host (Loshchilov & Hutter 2019, torch.optim.AdamW's single-tensor
// formula), in one fused pass: the optimizers of the training engines run it on float32 arrays between steps, where
// element-wise tensor ops would each make a pass and a temporary.

export interface AdamWUpdateOptions {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Decoupled weight decay λ (θ ← θ·(1 − lr·λ) first); 0 for parameters that get none. */
  weightDecay: number;
  /** This parameter's update count t, counting this update (≥ 1): the bias corrections use it. */
  step: number;
}

/**
 * In place: m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; θ ← θ·(1 − lr·λ) − (lr / (1−β1ᵗ))·m / (√v / √(1−β2ᵗ) + ε).
 * Arithmetic in float64, stored as float32.
 */
export function adamwUpdate(param: Float32Array, grad: Float32Array, expAvg: Float32Array, expAvgSq: Float32Array, options: AdamWUpdateOptions): void {
  const n = param.length;
  if (grad.length !== n || expAvg.length !== n || expAvgSq.length !== n) {
    throw new Error(`[infialign/kernels] adamw-update: param has ${n} values, grad ${grad.length}, exp_avg ${expAvg.length}, exp_avg_sq ${expAvgSq.length} (expected all equal).`);
  }
  const { lr, beta1: b1, beta2: b2, epsilon: eps, weightDecay, step } = options;
  if (!(Number.isInteger(step) && step >= 1)) throw new Error(`[infialign/kernels] adamw-update: step=${step} (expected an integer ≥ 1: the update count including this one).`);
  const stepSize = lr / (1 - b1 ** step);
  const bias2Sqrt = Math.sqrt(1 - b2 ** step);
  const keep = 1 - lr * weightDecay;
  for (let i = 0; i < n; i++) {
    const g = grad[i] as number;
    const m = b1 * (expAvg[i] as number) + (1 - b1) * g;
    const v = b2 * (expAvgSq[i] as number) + (1 - b2) * g * g;
    expAvg[i] = m;
    expAvgSq[i] = v;
    param[i] = (param[i] as number) * keep - (stepSize * m) / (Math.sqrt(v) / bias2Sqrt + eps);
  }
}
