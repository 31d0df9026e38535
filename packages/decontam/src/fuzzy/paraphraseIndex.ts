import type { BenchmarkItem } from "../benchmarks/loadBenchmark.js";
import { canonicalTokens, isNumber, VARIABLE } from "./canonicalize.js";
import { type ParaphraseIndexConfig, resolveParaphraseIndexConfig } from "./config.js";

/** One benchmark item that a checked text paraphrases. */
export interface ParaphraseMatch {
  benchmark: string;
  id: string;
  /** IDF-weighted share of the item's features found in the text (0-1). */
  score: number;
  /** IDF-weighted share of the item's word-only features (no number, no variable) found in the text (1 when it has none). */
  wordScore: number;
  /** Share of the item's numbers found in the text (1 when the item has none). */
  numberContainment: number;
  /** Distinct numbers in the item. */
  itemNumbers: number;
  /** Distinct non-stock numbers of the item (see `numberRichThreshold`). */
  rareNumbers: number;
  /** How many of those the text holds. */
  rareNumbersFound: number;
  /** Evidence: the item's highest-weight features found in the text, canonical tokens, " | "-separated. */
  features: string;
  /** Weight of the item's heaviest word (4+ letters) missing from the text, as a share of the item's total weight. */
  missingWordShare: number;
  /** Distinct numbers in the text that the item lacks. */
  extraNumbers: number;
  /** Share of the item's adjacent number pairs (reading order) found adjacent in the text (1 below `numberOrderMinPairs`). */
  numberOrder: number;
  /** Canonical tokens of the text over those of the item. */
  lengthRatio: number;
}

/** Options of `ParaphraseIndex.build` beyond the config. */
export interface ParaphraseBuildOptions {
  /** Texts from the training domain; features common there are stock too (see `maxDocFrequency`). @default none */
  background?: Iterable<string>;
}

/** Distinct features of canonical tokens: unigrams (the variable placeholder excepted) and adjacent bigrams. */
function features(tokens: string[]): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as string;
    if (t !== VARIABLE) out.add(t);
    if (i + 1 < tokens.length) out.add(`${t} ${tokens[i + 1]}`);
  }
  return out;
}

// Numeric feature keys at check time (no bigram strings built): a unigram is its token id, a bigram (a, b) is
// (a + 1) * TOKEN_SPAN + b; token ids stay below TOKEN_SPAN, so keys never collide and stay exact doubles.
const TOKEN_SPAN = 2 ** 24;

/** Distinct adjacent pairs of a token-id sequence as bigram keys; pairs holding -1 (a token no item has) are skipped. */
function adjacentPairs(seq: readonly number[]): Set<number> {
  const out = new Set<number>();
  for (let j = 1; j < seq.length; j++) {
    const a = seq[j - 1] as number;
    const b = seq[j] as number;
    if (a >= 0 && b >= 0) out.add((a + 1) * TOKEN_SPAN + b);
  }
  return out;
}

/** Config-driven weight multiplier of a feature on top of its IDF. */
function featureMultiplier(f: string, c: ParaphraseIndexConfig): number {
  const parts = f.split(" ");
  let m = parts.length > 1 ? c.bigramWeight : 1;
  if (parts.some(isNumber)) m *= c.numberWeight;
  if (parts.includes(VARIABLE)) m *= c.variableWeight;
  return m;
}

/**
 * Paraphrase-level leak detector: scores each benchmark item by IDF-weighted containment of the ITEM's features in the
 * text, so reformatted LaTeX, renamed variables, a prepended sentence or reordered clauses still match while stock
 * phrases shared by many items weigh little. Candidates come from an inverted index over features; numbers must match
 * too (`minNumberContainment`). Precision gates then drop sibling problems that share an item's wording but not its
 * content: other numbers (`extraNumbersPerItemNumber`), the same numbers in another order (`minNumberOrder`), a missing
 * distinctive word (`maxMissingWordShare`), a much shorter text or formula (`minLengthRatio`, `minVariableRatio`), and
 * any rewording of very light items (`smallItemWeight`).
 */
export class ParaphraseIndex {
  readonly config: ParaphraseIndexConfig;
  /** Items indexed. */
  readonly itemCount: number;
  /** Items with fewer than `minItemFeatures` non-stock features, not indexed. */
  readonly skipped: BenchmarkItem[] = [];

  private readonly items: BenchmarkItem[] = [];
  private readonly featureIds = new Map<string, number>();
  private readonly weights: Float64Array;
  private readonly postings: Int32Array[];
  private readonly featureNames: string[];
  private readonly itemTotal: Float64Array;
  private readonly itemWordTotal: Float64Array;
  /** Per feature: 1 when it holds neither a number nor the variable placeholder. */
  private readonly wordOnly: Uint8Array;
  private accWords: Float64Array;
  /** Token ids of each item's numbers, and of its non-stock numbers. */
  private readonly itemNumbers: Int32Array[];
  private readonly itemRareNumbers: Int32Array[] = [];
  /** Per item: feature ids of its word unigrams of 4+ letters, its canonical token count, its variable placeholders. */
  private readonly itemWordUnigrams: Int32Array[] = [];
  private readonly itemTokens: number[] = [];
  private readonly itemVariables: number[] = [];
  /** Per item: its distinct adjacent number pairs in reading order, as (a + 1) * TOKEN_SPAN + b keys. */
  private readonly itemNumberPairs: Float64Array[] = [];
  private acc: Float64Array;
  /** Id of every token of every item. */
  private readonly tokenIds = new Map<string, number>();
  private readonly featureByKey = new Map<number, number>();
  // Per-check "seen" marks, compared with #epoch so they never need clearing.
  private readonly tokenStamp: Int32Array;
  private readonly featureStamp: Int32Array;
  private epoch = 0;

  private constructor(items: BenchmarkItem[], config: ParaphraseIndexConfig, background: Iterable<string>) {
    this.config = config;
    const itemTokens = items.map((it) => {
      const tokens = canonicalTokens(it.text);
      for (const t of tokens) if (!this.tokenIds.has(t)) this.tokenIds.set(t, this.tokenIds.size);
      return tokens;
    });
    const itemFeatures = itemTokens.map(features);
    const df = new Map<string, number>();
    for (const fs of itemFeatures) for (const f of fs) df.set(f, (df.get(f) ?? 0) + 1);
    const bgDf = new Map<string, number>();
    let bgCount = 0;
    for (const text of background) {
      bgCount++;
      for (const f of features(canonicalTokens(text))) if (df.has(f)) bgDf.set(f, (bgDf.get(f) ?? 0) + 1);
    }
    const n = items.length;
    // At least 3 items must share a feature for it to be stock, so tiny benchmark sets keep their features.
    const stock = (f: string) =>
      (df.get(f) as number) > Math.max(2, config.maxDocFrequency * n) ||
      (bgCount > 0 && (bgDf.get(f) ?? 0) > Math.max(2, config.maxDocFrequency * bgCount));
    const post: number[][] = [];
    const weights: number[] = [];
    const names: string[] = [];
    const totals: number[] = [];
    const wordTotals: number[] = [];
    const wordOnly: number[] = [];
    this.itemNumbers = [];
    for (let i = 0; i < items.length; i++) {
      const kept = [...(itemFeatures[i] as Set<string>)].filter((f) => !stock(f));
      if (kept.length < config.minItemFeatures) {
        this.skipped.push(items[i] as BenchmarkItem);
        continue;
      }
      const idx = this.items.length;
      this.items.push(items[i] as BenchmarkItem);
      let total = 0;
      let wordTotal = 0;
      for (const f of kept) {
        let id = this.featureIds.get(f);
        if (id === undefined) {
          id = names.length;
          this.featureIds.set(f, id);
          const [a, b] = f.split(" ").map((t) => this.tokenIds.get(t) as number) as [number, number | undefined];
          this.featureByKey.set(b === undefined ? a : (a + 1) * TOKEN_SPAN + b, id);
          names.push(f);
          post.push([]);
          // Smoothed IDF over items and background, boosted for numbers.
          const d = (df.get(f) as number) + (bgDf.get(f) ?? 0);
          weights.push(Math.log(1 + (n + bgCount) / d) * featureMultiplier(f, config));
          wordOnly.push(f.split(" ").every((p) => p !== VARIABLE && !isNumber(p)) ? 1 : 0);
        }
        (post[id] as number[]).push(idx);
        total += weights[id] as number;
        if (wordOnly[id] === 1) wordTotal += weights[id] as number;
      }
      totals.push(total);
      wordTotals.push(wordTotal);
      // All the item's numbers, common ones too: changing a 2 into a 3 makes another problem.
      const isNum = (f: string) => !f.includes(" ") && isNumber(f);
      const tids = (fs: string[]) => Int32Array.from(fs.filter(isNum), (f) => this.tokenIds.get(f) as number);
      this.itemNumbers.push(tids([...(itemFeatures[i] as Set<string>)]));
      this.itemRareNumbers.push(tids(kept));
      const toks = itemTokens[i] as string[];
      this.itemTokens.push(toks.length);
      this.itemVariables.push(toks.filter((t) => t === VARIABLE).length);
      this.itemNumberPairs.push(Float64Array.from(adjacentPairs(toks.filter(isNumber).map((t) => this.tokenIds.get(t) as number))));
      // Shorter letter runs are mostly variable products (`ab`, `xyz`) or function names, not distinctive words.
      this.itemWordUnigrams.push(Int32Array.from(kept.filter((f) => f.length >= 4 && !f.includes(" ") && !isNumber(f)), (f) => this.featureIds.get(f) as number));
    }
    this.itemCount = this.items.length;
    this.weights = Float64Array.from(weights);
    this.postings = post.map((p) => Int32Array.from(p));
    this.featureNames = names;
    this.itemTotal = Float64Array.from(totals);
    this.itemWordTotal = Float64Array.from(wordTotals);
    this.wordOnly = Uint8Array.from(wordOnly);
    if (this.tokenIds.size >= TOKEN_SPAN) throw new Error(`[infialign/decontam] paraphrase-index: more than ${TOKEN_SPAN} distinct tokens`);
    this.tokenStamp = new Int32Array(this.tokenIds.size);
    this.featureStamp = new Int32Array(names.length);
    this.acc = new Float64Array(this.itemCount);
    this.accWords = new Float64Array(this.itemCount);
  }

  /** Builds the index over `items`; `opts.background` texts only lower the weight of features common there. */
  static build(items: Iterable<BenchmarkItem>, config: Partial<ParaphraseIndexConfig> = {}, opts: ParaphraseBuildOptions = {}): ParaphraseIndex {
    return new ParaphraseIndex([...items], resolveParaphraseIndexConfig(config), opts.background ?? []);
  }

  /** Distinct non-stock features indexed. */
  get featureCount(): number {
    return this.featureNames.length;
  }

  /** Items whose score and number containment pass the thresholds, best first (at most `topK`). Never throws on any string. */
  check(text: string): ParaphraseMatch[] {
    const tokens = canonicalTokens(text);
    const acc = this.acc;
    const accWords = this.accWords;
    const touched: number[] = [];
    const hitIds: number[] = [];
    if (this.epoch === 0x7fffffff) {
      this.epoch = 0;
      this.tokenStamp.fill(0);
      this.featureStamp.fill(0);
    }
    const epoch = ++this.epoch;
    const tokenStamp = this.tokenStamp;
    const featureStamp = this.featureStamp;
    const visit = (key: number) => {
      const id = this.featureByKey.get(key);
      if (id === undefined || featureStamp[id] === epoch) return;
      featureStamp[id] = epoch;
      hitIds.push(id);
      const w = this.weights[id] as number;
      const word = this.wordOnly[id] === 1;
      for (const idx of this.postings[id] as Int32Array) {
        if (acc[idx] === 0) touched.push(idx);
        acc[idx] = (acc[idx] as number) + w;
        if (word) accWords[idx] = (accWords[idx] as number) + w;
      }
    };
    let prev = -1;
    // The text's numbers in reading order (token ids, -1 for numbers no item has); only read for surviving candidates.
    const textNumberSeq: number[] = [];
    let textVariables = 0;
    for (const t of tokens) {
      const tid = this.tokenIds.get(t) ?? -1;
      if (t === VARIABLE) textVariables++;
      else if (isNumber(t)) textNumberSeq.push(tid);
      if (tid >= 0) {
        tokenStamp[tid] = epoch;
        if (t !== VARIABLE) visit(tid);
        if (prev >= 0) visit((prev + 1) * TOKEN_SPAN + tid);
      }
      prev = tid;
    }
    const found = (tids: Int32Array) => {
      let c = 0;
      for (const tid of tids) if (tokenStamp[tid] === epoch) c++;
      return c;
    };
    const { threshold, minNumberContainment, numberRichThreshold, minWordScore, topK, minLengthRatio, minVariableRatio } = this.config;
    const { smallItemWeight, smallItemThreshold, extraNumbersPerItemNumber, extraNumbersPerToken, maxExtraNumbers, maxMissingWordShare } = this.config;
    const { minNumberOrder, numberOrderMinPairs } = this.config;
    const low = Math.min(threshold, numberRichThreshold);
    const out: ParaphraseMatch[] = [];
    // The text's adjacent number pairs and extra-number counter, built for the first candidate that needs them.
    let textPairs: Set<number> | undefined;
    let extraCount: ((nums: Int32Array) => number) | undefined;
    for (const idx of touched) {
      const score = (acc[idx] as number) / (this.itemTotal[idx] as number);
      const wordTotal = this.itemWordTotal[idx] as number;
      const wordScore = wordTotal > 0 ? (accWords[idx] as number) / wordTotal : 1;
      acc[idx] = 0;
      accWords[idx] = 0;
      if (score < low || wordScore < minWordScore) continue;
      const nums = this.itemNumbers[idx] as Int32Array;
      const numberContainment = nums.length === 0 ? 1 : found(nums) / nums.length;
      if (numberContainment < minNumberContainment) continue;
      const rare = this.itemRareNumbers[idx] as Int32Array;
      const rareNumbersFound = found(rare);
      if (score < threshold && !(rareNumbersFound >= 3 && rareNumbersFound === rare.length)) continue;
      const itemTokens = this.itemTokens[idx] as number;
      const lengthRatio = tokens.length / itemTokens;
      if (lengthRatio < minLengthRatio) continue;
      const itemVariables = this.itemVariables[idx] as number;
      if (itemVariables >= 4 && textVariables < minVariableRatio * itemVariables) continue;
      extraCount ??= this.extraNumberCounter(tokens, textNumberSeq);
      const extraNumbers = extraCount(nums);
      // An item without word features (a bare formula) is matched by numbers and variables alone: only a near-exact copy counts.
      const small = (this.itemTotal[idx] as number) < smallItemWeight || wordTotal === 0;
      if (small && (score < smallItemThreshold || extraNumbers > 0)) continue;
      const allowedExtra = Math.min(maxExtraNumbers, extraNumbersPerItemNumber * nums.length) + extraNumbersPerToken * Math.max(0, tokens.length - itemTokens);
      if (extraNumbers > allowedExtra) continue;
      const pairs = this.itemNumberPairs[idx] as Float64Array;
      let numberOrder = 1;
      if (pairs.length >= numberOrderMinPairs) {
        textPairs ??= adjacentPairs(textNumberSeq);
        let inOrder = 0;
        for (const p of pairs) if (textPairs.has(p)) inOrder++;
        numberOrder = inOrder / pairs.length;
        if (numberOrder < minNumberOrder) continue;
      }
      let missingWord = 0;
      for (const f of this.itemWordUnigrams[idx] as Int32Array) if (featureStamp[f] !== epoch) missingWord = Math.max(missingWord, this.weights[f] as number);
      const missingWordShare = missingWord / (this.itemTotal[idx] as number);
      if (missingWordShare > maxMissingWordShare) continue;
      const item = this.items[idx] as BenchmarkItem;
      out.push({
        benchmark: item.benchmark,
        id: item.id,
        score,
        wordScore,
        numberContainment,
        itemNumbers: nums.length,
        rareNumbers: rare.length,
        rareNumbersFound,
        features: this.evidence(idx, hitIds),
        missingWordShare,
        extraNumbers,
        numberOrder,
        lengthRatio,
      });
    }
    out.sort((a, b) => b.score - a.score);
    return out.length > topK ? out.slice(0, topK) : out;
  }

  /** Counter of the text's distinct numbers missing from an item's numbers (built once per checked text, when needed). */
  private extraNumberCounter(tokens: string[], textNumberSeq: number[]): (nums: Int32Array) => number {
    const known = [...new Set(textNumberSeq.filter((tid) => tid >= 0))];
    const unknown = new Set(tokens.filter((t) => isNumber(t) && !this.tokenIds.has(t))).size;
    return (nums) => {
      let extra = unknown;
      for (const tid of known) if (!nums.includes(tid)) extra++;
      return extra;
    };
  }

  /** The item's eight heaviest features among those hit (only computed for flagged items). */
  private evidence(idx: number, hitIds: number[]): string {
    return hitIds
      .filter((id) => (this.postings[id] as Int32Array).includes(idx))
      .sort((a, b) => (this.weights[b] as number) - (this.weights[a] as number))
      .slice(0, 8)
      .map((id) => this.featureNames[id])
      .join(" | ");
  }
}
