// Next-token sampling for one row of logits: greedy, temperature, top-k, top-p (nucleus), applied in the order
// transformers' LogitsProcessorList and vLLM's Sampler use (temperature → top-k → top-p), with float64 arithmetic and
// a seeded xoshiro128** stream per (request, sample), so a sample never depends on what else shares its batch.
import { createRng, type Rng } from "@infialign/kernels";

/** The truncation and reporting settings of one sampler (validated by the caller; see `resolveSampling` in generate.ts). */
export interface SamplerOptions {
  /** 0 = greedy (argmax, lowest id on ties); otherwise logits are divided by it. @default 1 */
  temperature?: number;
  /** Nucleus mass in (0, 1]: keep the smallest most-likely set whose probability reaches it. @default 1 */
  topP?: number;
  /** Keep the k most likely tokens (ties with the k-th are kept, as transformers and vLLM do); 0 = all. @default 0 */
  topK?: number;
  /** Alternatives to report per position, most likely first, from the unmodified distribution. @default 0 */
  topLogprobs?: number;
}

/** One sampled token. */
export interface SampledToken {
  tokenId: number;
  /** log p of `tokenId` under the unmodified distribution (log-softmax of the raw logits, float64). */
  logprob: number;
  /** With `topLogprobs > 0`: the most likely tokens of the unmodified distribution, most likely first. */
  topLogprobs?: { tokenId: number; logprob: number }[];
}

/** The tokens a sampler may draw and their renormalised probabilities (what the draws follow). */
export interface SamplingDistribution {
  tokenIds: number[];
  probs: Float64Array;
}

const TWO_POW_32 = 4294967296;

/** splitmix32's finaliser: a bijective 32-bit mix, so nearby inputs give unrelated outputs. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * Seed of sample `sampleIndex` of a request seeded with `seed`: each (request seed, sample index) pair gets its own
 * stream, so sample j of a prompt is the same whether it is decoded alone, with its siblings or in another wave.
 */
export function sampleSeed(seed: number, sampleIndex: number): number {
  if (!Number.isInteger(seed) || seed < 0 || seed >= TWO_POW_32) throw new RangeError(`seed must be an integer in [0, 2^32), got ${seed}`);
  return mix32((seed ^ mix32((sampleIndex + 0x9e3779b9) >>> 0)) >>> 0);
}

/** max and log Σ exp(x − max) of `logits` in float64: log-softmax(x)_i = x_i − max − logSum. */
export function logSoftmaxStats(logits: ArrayLike<number>): { max: number; logSum: number } {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  return { max, logSum: Math.log(sum) };
}

/** Index of the largest logit; the lowest index wins ties. */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  let bestValue = logits[0]!;
  for (let i = 1; i < logits.length; i++) {
    if (logits[i]! > bestValue) {
      bestValue = logits[i]!;
      best = i;
    }
  }
  return best;
}

/**
 * Ids of the `k` largest values, largest first, lowest id first among equals. A size-k min-heap (O(V log k)) instead
 * of sorting the vocabulary: at V = 151k and k ≤ 100 this is one pass.
 */
export function topKIndices(values: ArrayLike<number>, k: number): number[] {
  k = Math.min(k, values.length);
  if (k <= 0) return [];
  // `worse(a, b)`: a ranks below b (smaller value, or equal value and higher id).
  const worse = (a: number, b: number): boolean => values[a]! < values[b]! || (values[a]! === values[b]! && a > b);
  const heap: number[] = [];
  const siftDown = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && worse(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && worse(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  for (let i = 0; i < values.length; i++) {
    if (heap.length < k) {
      heap.push(i);
      for (let c = heap.length - 1; c > 0; ) {
        const p = (c - 1) >> 1;
        if (!worse(heap[c]!, heap[p]!)) break;
        [heap[c], heap[p]] = [heap[p]!, heap[c]!];
        c = p;
      }
    } else if (worse(heap[0]!, i)) {
      heap[0] = i;
      siftDown(0);
    }
  }
  return heap.sort((a, b) => (worse(a, b) ? 1 : worse(b, a) ? -1 : 0));
}

/**
 * Samples next tokens from rows of logits with fixed settings and its own random stream. Holds a scratch buffer of
 * vocabulary size, so one sampler per row avoids an allocation per token.
 */
export class TokenSampler {
  readonly temperature: number;
  readonly topP: number;
  readonly topK: number;
  readonly topLogprobs: number;
  private readonly rng: Rng;
  private weights = new Float64Array(0);
  private pool = new Float64Array(0);

  /** `seed` seeds this sampler's xoshiro128** stream (see {@link sampleSeed}); an `Rng` is used as is. */
  constructor(options: SamplerOptions, seed: number | Rng = 0) {
    this.temperature = options.temperature ?? 1;
    this.topP = options.topP ?? 1;
    this.topK = options.topK ?? 0;
    this.topLogprobs = options.topLogprobs ?? 0;
    this.rng = typeof seed === "number" ? createRng(seed) : seed;
  }

  /** Draws one token from `logits` (one row, float32 or float64) and reports its log-prob under the raw distribution. */
  sample(logits: ArrayLike<number>): SampledToken {
    let tokenId: number;
    if (this.temperature === 0) tokenId = argmax(logits);
    else {
      const { tokenIds, weights, total } = this.candidates(logits);
      // Inverse-CDF draw over the kept tokens in a fixed order: one uniform per token keeps the stream aligned.
      const u = this.rng.nextFloat() * total;
      let acc = 0;
      tokenId = -1;
      const n = tokenIds ? tokenIds.length : weights.length;
      for (let j = 0; j < n; j++) {
        const w = weights[j]!;
        if (w === 0) continue;
        tokenId = tokenIds ? tokenIds[j]! : j;
        acc += w;
        if (u < acc) break;
      }
      if (tokenId < 0) tokenId = argmax(logits);
    }
    const { max, logSum } = logSoftmaxStats(logits);
    const out: SampledToken = { tokenId, logprob: logits[tokenId]! - max - logSum };
    if (this.topLogprobs > 0) {
      out.topLogprobs = topKIndices(logits, this.topLogprobs).map((id) => ({ tokenId: id, logprob: logits[id]! - max - logSum }));
    }
    return out;
  }

  /** The kept tokens and their probabilities after temperature, top-k and top-p (greedy: the argmax alone). */
  distribution(logits: ArrayLike<number>): SamplingDistribution {
    if (this.temperature === 0) return { tokenIds: [argmax(logits)], probs: Float64Array.of(1) };
    const { tokenIds, weights, total } = this.candidates(logits);
    const ids = tokenIds ?? Array.from(weights.keys());
    const probs = new Float64Array(ids.length);
    for (let j = 0; j < ids.length; j++) probs[j] = weights[j]! / total;
    const keep = ids.map((_, j) => j).filter((j) => probs[j]! > 0);
    return { tokenIds: keep.map((j) => ids[j]!), probs: Float64Array.from(keep, (j) => probs[j]!) };
  }

  /**
   * Unnormalised weights exp((x − max) / T) of the kept tokens. `tokenIds` undefined means every token, weights
   * indexed by id (the common top_p = 1, top_k = 0 case, kept free of sorting and of id arrays).
   */
  private candidates(logits: ArrayLike<number>): { tokenIds: number[] | undefined; weights: Float64Array; total: number } {
    const vocab = logits.length;
    const t = this.temperature;
    let max = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < vocab; i++) if (logits[i]! > max) max = logits[i]!;
    if (this.weights.length !== vocab) this.weights = new Float64Array(vocab);
    const w = this.weights;
    let total = 0;
    for (let i = 0; i < vocab; i++) total += w[i] = Math.exp((logits[i]! - max) / t);

    let ids: number[] | undefined;
    if (this.topK > 0 && this.topK < vocab) {
      // transformers' TopKLogitsWarper and vLLM mask logits below the k-th largest, so ties with it stay.
      const kth = logits[topKIndices(logits, this.topK).at(-1)!]!;
      ids = [];
      total = 0;
      for (let i = 0; i < vocab; i++) {
        if (logits[i]! >= kth) {
          ids.push(i);
          total += w[i]!;
        }
      }
    }
    if (this.topP < 1) return this.nucleus(ids, total);
    if (!ids) return { tokenIds: undefined, weights: w, total };
    return { tokenIds: ids, weights: Float64Array.from(ids, (i) => w[i]!), total };
  }

  /**
   * Top-p over `ids` (all tokens when undefined): in order of probability, largest first (lowest id on ties), keep
   * tokens while the mass before them is < top_p, at least one — transformers' TopPLogitsWarper / vLLM. Only the
   * weights are sorted (a native Float64Array sort), and over the whole vocabulary only those ≥ τ·total, lowering τ
   * until the kept set ends inside them; the result is exact without sorting 151k ids through a comparator.
   */
  private nucleus(ids: number[] | undefined, total: number): { tokenIds: number[]; weights: Float64Array; total: number } {
    const w = this.weights;
    for (let tau = ids ? 0 : 1e-4; ; tau = tau < 1e-12 ? 0 : tau / 64) {
      const cut = tau * total;
      let size = 0;
      const pool = this.pool.length >= w.length ? this.pool : (this.pool = new Float64Array(w.length));
      if (ids) for (const i of ids) pool[size++] = w[i]!;
      else for (let i = 0; i < w.length; i++) if (w[i]! >= cut && w[i]! > 0) pool[size++] = w[i]!;
      const sorted = pool.subarray(0, size).sort();
      // Walk from the largest weight; ties have equal weights, so the masses do not depend on how ties are ordered.
      let kept = 0;
      let cum = 0;
      let last = 0;
      for (let j = size - 1; j >= 0; j--) {
        if (kept > 0 && cum / total >= this.topP) break;
        last = sorted[j]!;
        cum += last;
        kept++;
      }
      const complete = kept < size || cum / total >= this.topP || tau === 0;
      if (!complete) continue;
      // Every weight above the last kept one, then the lowest ids among those equal to it.
      let equal = 0;
      for (let j = size - kept; j < size && sorted[j] === last; j++) equal++;
      const tokenIds: number[] = [];
      const n = ids ? ids.length : w.length;
      for (let j = 0; j < n; j++) {
        const i = ids ? ids[j]! : j;
        const x = w[i]!;
        if (x > last || (x === last && equal-- > 0)) tokenIds.push(i);
      }
      return { tokenIds, weights: Float64Array.from(tokenIds, (i) => w[i]!), total: cum };
    }
  }
}
