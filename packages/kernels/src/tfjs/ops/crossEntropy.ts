// LM-head + cross-entropy fused and chunked over positions, so the [positions, vocab] logits never exist at once.
import * as tf from "@tensorflow/tfjs-core";
// The reference and the ops around the custom gradient (slice, unstack, sum) differentiate through tfjs' registered
// gradients, which tfjs-core only registers on request.

/** Label of a position that takes no part in the loss (PyTorch / Hugging Face convention). */
export const IGNORE_INDEX = -100;

/** Options of {@link chunkedTokenLogProbs} and {@link chunkedCrossEntropy}. */
export interface ChunkedCrossEntropyOptions {
  /**
   * Kept positions per chunk. Extra memory is at most two (three with the side outputs) float32 `[chunkSize, vocab]`
   * temporaries plus about three `[vocab, hidden]` buffers (transposed head, gradient accumulators). Does not change
   * results beyond float rounding.
   * @default 1024
   */
  chunkSize?: number;
}

/** Result of {@link chunkedTokenLogProbs}; every tensor is over the kept (label ≠ -100) positions, in order. */
export interface TokenLogProbs {
  /** log p(label | position), `[kept]`, differentiable with respect to hidden and lmHead. */
  logProbs: tf.Tensor1D;
  /** Entropy −Σ p log p of each kept position's next-token distribution in nats, `[kept]`; gradient is not propagated. */
  entropy: tf.Tensor1D;
  /** 1 where argmax(logits) equals the label, else 0, `[kept]` float32; not differentiable (TRL `mean_token_accuracy`). */
  correct: tf.Tensor1D;
  /** Index in `[0, n)` of each kept position. */
  keptIndices: Int32Array;
}

interface Problem {
  n: number;
  h: number;
  vocab: number;
  kept: Int32Array;
  keptLabels: Int32Array;
  chunkSize: number;
}

function prepare(hidden: tf.Tensor, lmHead: tf.Tensor, labels: tf.Tensor, options: ChunkedCrossEntropyOptions): Problem {
  const where = "[infialign/kernels] chunkedCrossEntropy";
  if (hidden.rank !== 2) throw new Error(`${where}: hidden must be [positions, hidden] (flatten batch and sequence first); got [${hidden.shape}].`);
  if (lmHead.rank !== 2 || lmHead.shape[1] !== hidden.shape[1]) throw new Error(`${where}: lmHead must be [vocab, ${hidden.shape[1]}]; got [${lmHead.shape}].`);
  if (labels.rank !== 1 || labels.shape[0] !== hidden.shape[0]) throw new Error(`${where}: labels must be [${hidden.shape[0]}] (one per position, -100 = ignore); got [${labels.shape}].`);
  const chunkSize = options.chunkSize ?? 1024;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new Error(`${where}: option chunkSize must be a positive integer; got ${chunkSize}.`);
  const [n, h] = hidden.shape as [number, number];
  const vocab = lmHead.shape[0] as number;
  const all = labels.dataSync();
  const kept: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = all[i] as number;
    if (label === IGNORE_INDEX) continue;
    if (!Number.isInteger(label) || label < 0 || label >= vocab) throw new Error(`${where}: label ${label} at position ${i} is outside [0, ${vocab}) and is not ${IGNORE_INDEX}.`);
    kept.push(i);
  }
  return { n, h, vocab, kept: Int32Array.from(kept), keptLabels: Int32Array.from(kept, (i) => all[i] as number), chunkSize };
}

/** Float32 one-hot rows; wasm's OneHot ignores a float32 dtype and writes int32 bits (1 reads as 1.4e-45). */
function oneHotF32(indices: tf.Tensor, depth: number): tf.Tensor {
  return tf.cast(tf.oneHot(indices, depth), "float32");
}

/** Rows of `x` at `indices` (gatherND: the wasm backend cannot differentiate `gather`, and this op never asks it to). */
function rows(x: tf.Tensor, indices: Int32Array): tf.Tensor {
  return tf.gatherND(x, tf.tensor2d(indices, [indices.length, 1], "int32"));
}

function chunksOf(p: Problem): Array<[number, number]> {
  const chunks: Array<[number, number]> = [];
  for (let start = 0; start < p.kept.length; start += p.chunkSize) chunks.push([start, Math.min(p.kept.length, start + p.chunkSize)]);
  return chunks;
}

/**
 * Forward over chunks of kept positions: `[kept]` log-probs and, when `side` is set, `[2, kept]` entropy and
 * correctness. `[chunk, vocab]` temporaries are disposed as soon as they are consumed, so at most two (three with
 * `side`) are alive at once.
 */
function forwardChunks(hidden: tf.Tensor, w: tf.Tensor, p: Problem, side: boolean): { logProbs: tf.Tensor; side?: tf.Tensor } {
  const { kept, keptLabels } = p;
  // Every product here and in backwardChunks is a plain 2-D [m, k]·[k, n] with explicit transposes: stock tfjs-wasm sends
  // only that form to XNNPACK (~22 GFLOP/s here) and runs transposed operands in a naive loop (~1 GFLOP/s).
  const wT = tf.transpose(w);
  const parts = chunksOf(p).map(([start, end]) =>
    tf.tidy(() => {
      const hc = rows(hidden, kept.subarray(start, end));
      const logits = tf.matMul(hc, wT);
      const max = tf.max(logits, 1, true);
      const shifted = tf.sub(logits, max);
      logits.dispose();
      const e = tf.exp(shifted);
      const sum = tf.sum(e, 1, true);
      const logSum = tf.log(sum);
      // Label logit as h·w[label] rather than a gather over the [chunk, vocab] logits.
      const labelLogit = tf.sum(tf.mul(hc, rows(w, keptLabels.subarray(start, end))), 1);
      const logProb = tf.sub(labelLogit, tf.reshape(tf.add(max, logSum), [-1]));
      if (!side) return [logProb];
      // H = log Σe − Σ p·(z − max), with z − max the shifted logits; argmax of the shifted logits is argmax of the logits.
      const eShifted = tf.mul(e, shifted);
      e.dispose();
      const entropy = tf.reshape(tf.sub(logSum, tf.div(tf.sum(eShifted, 1, true), sum)), [-1]);
      eShifted.dispose();
      const correct = tf.cast(tf.equal(tf.argMax(shifted, 1), tf.tensor1d(keptLabels.subarray(start, end), "int32")), "float32");
      return [logProb, tf.stack([entropy, correct])];
    }),
  );
  wT.dispose();
  const join = (i: number, axis: number) => {
    const ts = parts.map((part) => part[i] as tf.Tensor);
    if (ts.length === 1) return ts[0] as tf.Tensor;
    const out = tf.concat(ts, axis);
    tf.dispose(ts);
    return out;
  };
  return { logProbs: join(0, 0), side: side ? join(1, 1) : undefined };
}

/**
 * Backward of Σ g · logProbs (g = dLogProb, `[kept, 1]`). With d log p(y)/d logits = onehot(y) − softmax(logits):
 * dHidden = g·W[y] − (g·P)·W and dW = scatter_y(g·h) − (g·P)ᵀ·h. The softmax part is recomputed chunk by chunk (at most
 * two `[chunk, vocab]` temporaries alive); the one-hot part is a row gather and one scatter-add over all kept positions,
 * so no `[chunk, vocab]` one-hot is built. Ignored rows of dHidden are 0.
 */
function backwardChunks(hidden: tf.Tensor, w: tf.Tensor, p: Problem, dLogProb: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const { n, h, vocab, kept, keptLabels } = p;
  const wT = tf.transpose(w);
  const hKept = rows(hidden, kept);
  const labelRows = tf.tensor2d(keptLabels, [keptLabels.length, 1], "int32");
  // One-hot terms; scatterND adds the updates of repeated labels.
  let dWT: tf.Tensor = tf.tidy(() => tf.transpose(tf.scatterND(labelRows, tf.mul(hKept, dLogProb), [vocab, h])));
  const dKeptOneHot = tf.mul(tf.gatherND(w, labelRows), dLogProb);
  const dRows: tf.Tensor[] = [];
  for (const [start, end] of chunksOf(p)) {
    const [dHc, dWc] = tf.tidy(() => {
      const hc = tf.slice(hKept, [start, 0], [end - start, h]);
      const logits = tf.matMul(hc, wT);
      const probs = tf.softmax(logits, 1);
      logits.dispose();
      const gP = tf.mul(probs, tf.neg(tf.slice(dLogProb, [start, 0], [end - start, 1])));
      probs.dispose();
      return [tf.matMul(gP, w), tf.matMul(tf.transpose(hc), gP)];
    });
    const next = tf.add(dWT, dWc as tf.Tensor);
    tf.dispose([dWT, dWc as tf.Tensor]);
    dWT = next;
    dRows.push(dHc as tf.Tensor);
  }
  const dSoftmax = dRows.length === 1 ? (dRows[0] as tf.Tensor) : tf.concat(dRows, 0);
  const dKept = tf.add(dSoftmax, dKeptOneHot);
  const dHidden = tf.scatterND(tf.tensor2d(kept, [kept.length, 1], "int32"), dKept, [n, h]);
  const dW = tf.transpose(dWT);
  tf.dispose([wT, hKept, labelRows, dKeptOneHot, dWT, dSoftmax, dKept, ...dRows]);
  return [dHidden, dW];
}

/**
 * Log-probability of each label under softmax(hidden · lmHeadᵀ), with entropy and argmax-accuracy side outputs, chunked
 * over positions. Positions labelled -100 are dropped before the LM-head product (TRL `chunked_nll`, Liger
 * FusedLinearCrossEntropy); each chunk computes logits → log-sum-exp → label logit, and the custom gradient recomputes the
 * chunk's softmax in the backward pass, accumulating dHidden and dLmHead chunk by chunk: extra memory O(chunk × vocab)
 * instead of O(positions × vocab).
 *
 * Reads `labels` synchronously (the kept positions decide the shapes).
 *
 * @param hidden `[n, hidden]` final hidden states, batch and sequence already flattened (and shifted against labels)
 * @param lmHead `[vocab, hidden]` output embedding (tied or not)
 * @param labels int32 `[n]`, -100 = ignore
 */
export function chunkedTokenLogProbs(hidden: tf.Tensor, lmHead: tf.Tensor, labels: tf.Tensor, options: ChunkedCrossEntropyOptions = {}): TokenLogProbs {
  const p = prepare(hidden, lmHead, labels, options);
  if (p.kept.length === 0) return { logProbs: tf.zeros([0]) as tf.Tensor1D, entropy: tf.zeros([0]) as tf.Tensor1D, correct: tf.zeros([0]) as tf.Tensor1D, keptIndices: p.kept };
  // The side outputs leave the custom-gradient scope through tf.keep and are re-owned by the caller's scope below; ops
  // inside a custom gradient's forward are not taped, so no gradient can flow into them.
  let side: tf.Tensor | undefined;
  const op = tf.customGrad((hIn, wIn, save) => {
    (save as tf.GradSaveFunc)([hIn as tf.Tensor, wIn as tf.Tensor]);
    const out = forwardChunks(hIn as tf.Tensor, wIn as tf.Tensor, p, true);
    side = tf.keep(out.side as tf.Tensor);
    return { value: out.logProbs, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => backwardChunks(saved[0] as tf.Tensor, saved[1] as tf.Tensor, p, tf.reshape(dy, [-1, 1]))) };
  });
  const logProbs = op(hidden, lmHead) as tf.Tensor1D;
  const sideT = side as unknown as tf.Tensor;
  const [entropy, correct] = tf.unstack(sideT) as [tf.Tensor1D, tf.Tensor1D];
  sideT.dispose();
  return { logProbs, entropy, correct, keptIndices: p.kept };
}

/**
 * Mean negative log-likelihood over positions whose label is not -100 (Hugging Face / TRL semantics), chunked as
 * {@link chunkedTokenLogProbs}. When every label is -100 the loss is 0 and both gradients are 0 (PyTorch returns NaN).
 * The whole loss is one custom-gradient op, so it needs no registered tfjs gradients.
 *
 * @returns scalar loss
 */
export function chunkedCrossEntropy(hidden: tf.Tensor, lmHead: tf.Tensor, labels: tf.Tensor, options: ChunkedCrossEntropyOptions = {}): tf.Scalar {
  const p = prepare(hidden, lmHead, labels, options);
  // Reductions over empty tensors return garbage on the wasm backend; with nothing to score the loss is a constant.
  if (p.kept.length === 0) return zeroLoss(hidden, lmHead);
  const count = p.kept.length;
  const op = tf.customGrad((hIn, wIn, save) => {
    (save as tf.GradSaveFunc)([hIn as tf.Tensor, wIn as tf.Tensor]);
    const { logProbs } = forwardChunks(hIn as tf.Tensor, wIn as tf.Tensor, p, false);
    return {
      value: tf.div(tf.neg(tf.sum(logProbs)), count),
      // d loss / d logProb_i = −dy / count for every kept position.
      // tfjs runs a custom gradFunc outside any tidy; without one its temporaries would live until tf.grads returns.
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => backwardChunks(saved[0] as tf.Tensor, saved[1] as tf.Tensor, p, tf.mul(tf.ones([count, 1]), tf.div(tf.neg(dy), count)))),
    };
  });
  return op(hidden, lmHead) as tf.Scalar;
}

/** Scalar 0 whose gradient with respect to both inputs is 0 (no arithmetic on the inputs, so no NaN from inf × 0). */
function zeroLoss(hidden: tf.Tensor, lmHead: tf.Tensor): tf.Scalar {
  return tf.customGrad((h, w) => ({ value: tf.scalar(0), gradFunc: () => [tf.zerosLike(h as tf.Tensor), tf.zerosLike(w as tf.Tensor)] }))(hidden, lmHead) as tf.Scalar;
}

/**
 * Plain-tfjs oracle: full `[n, vocab]` logits, `tf.logSoftmax`, label log-prob picked with a one-hot mask, kept positions
 * gathered afterwards. Materialises every `[n, vocab]` intermediate for the backward, as an unfused model would.
 */
export function referenceTokenLogProbs(hidden: tf.Tensor, lmHead: tf.Tensor, labels: tf.Tensor): tf.Tensor1D {
  const p = prepare(hidden, lmHead, labels, {});
  return tf.tidy(() => {
    const all = labels.dataSync();
    const safe = tf.tensor1d(Int32Array.from(all, (l) => (l === IGNORE_INDEX ? 0 : l)), "int32");
    const logp = tf.logSoftmax(tf.matMul(hidden, lmHead, false, true), 1);
    const perPosition = tf.sum(tf.mul(logp, oneHotF32(safe, p.vocab)), 1);
    if (p.kept.length === 0) return tf.zeros([0]) as tf.Tensor1D;
    // Kept positions picked by a one-hot [kept, n] product: GatherNd has no registered gradient in tfjs.
    const select = oneHotF32(tf.tensor1d(p.kept, "int32"), p.n);
    return tf.reshape(tf.matMul(select, tf.reshape(perPosition, [p.n, 1])), [p.kept.length]) as tf.Tensor1D;
  });
}

/** Plain-tfjs mean NLL over labels ≠ -100 (0 when there are none), oracle for {@link chunkedCrossEntropy}. */
export function referenceCrossEntropy(hidden: tf.Tensor, lmHead: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  const p = prepare(hidden, lmHead, labels, {});
  return tf.tidy(() => {
    const all = labels.dataSync();
    const safe = tf.tensor1d(Int32Array.from(all, (l) => (l === IGNORE_INDEX ? 0 : l)), "int32");
    if (p.kept.length === 0) return zeroLoss(hidden, lmHead);
    const keep = tf.tensor1d(Float32Array.from(all, (l) => (l === IGNORE_INDEX ? 0 : 1)));
    const logp = tf.logSoftmax(tf.matMul(hidden, lmHead, false, true), 1);
    const perPosition = tf.sum(tf.mul(logp, oneHotF32(safe, p.vocab)), 1);
    return tf.div(tf.neg(tf.sum(tf.mul(perPosition, keep))), Math.max(1, p.kept.length)) as tf.Scalar;
  });
}
