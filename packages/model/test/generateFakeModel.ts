// A deterministic DecodeModel for generation and scoring tests: the logits at a position are a function of the real
// tokens up to it, and every step checks the StepInput contract of engine.ts (shapes, left padding, key mask, position
// ids counting real tokens only, cache ownership), so a generator that breaks the contract fails loudly.
import type { DecodeModel, KvCache, StepInput, StepOutput } from "../src/engine.js";

/** Logits of the next token after `history` (the real tokens so far, oldest first). */
export type LogitsFn = (history: readonly number[]) => ArrayLike<number>;

interface RowState {
  /** Every key position: token id (padding included) and whether it is real. */
  ids: number[];
  real: boolean[];
}

export class FakeCache implements KvCache {
  disposed = false;
  constructor(
    readonly rows: RowState[],
    private readonly owner: FakeModel,
  ) {
    owner.live++;
  }
  get length(): number {
    return this.rows[0]?.ids.length ?? 0;
  }
  get batch(): number {
    return this.rows.length;
  }
  dispose(): void {
    if (this.disposed) throw new Error("fake model: cache disposed twice");
    this.disposed = true;
    this.owner.live--;
  }
}

/** 32-bit mix → [0, 1). */
function hashUnit(a: number, b: number): number {
  let x = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35);
  x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d);
  x = Math.imul(x ^ (x >>> 12), 0x297a2d39);
  return ((x ^ (x >>> 15)) >>> 0) / 4294967296;
}

/** Pseudo-random logits in [−scale, scale] from the last two tokens and the length (a bigram table with a position hash). */
export function hashLogits(vocabSize: number, scale = 4): LogitsFn {
  return (history) => {
    const a = history.at(-1) ?? -1;
    const b = history.at(-2) ?? -1;
    const key = Math.imul(a + 7, 31) ^ Math.imul(b + 3, 131) ^ Math.imul(history.length, 2654435761);
    const out = new Float32Array(vocabSize);
    for (let v = 0; v < vocabSize; v++) out[v] = (2 * hashUnit(key, v) - 1) * scale;
    return out;
  };
}

/**
 * Logits under which greedy decoding spells `script` after the last `marker` token of the prompt (one token per step),
 * then repeats `fallback`; the other logits are hash noise in [−1, 1].
 */
export function scriptedLogits(vocabSize: number, marker: number, script: readonly number[], fallback: number): LogitsFn {
  const noise = hashLogits(vocabSize, 1);
  return (history) => {
    const out = Float32Array.from(noise(history));
    const at = history.lastIndexOf(marker);
    const k = history.length - 1 - at;
    out[at >= 0 ? (script[k] ?? fallback) : fallback] = 10;
    return out;
  };
}

export class FakeModel implements DecodeModel {
  live = 0;
  steps: StepInput[] = [];
  constructor(
    readonly vocabSize: number,
    readonly maxPositions: number,
    readonly logitsFn: LogitsFn,
  ) {}

  async step(input: StepInput): Promise<StepOutput> {
    this.steps.push(input);
    const { batch, newTokens, cache } = input;
    const fail = (what: string): never => {
      throw new Error(`fake model: step contract broken: ${what}`);
    };
    if (cache !== undefined && !(cache instanceof FakeCache)) fail("foreign cache");
    const past = cache as FakeCache | undefined;
    if (past?.disposed) fail("cache used after dispose");
    if (past && past.batch !== batch) fail(`cache has ${past.batch} rows, batch is ${batch}`);
    const cacheLength = past?.length ?? 0;
    if (input.ids.length !== batch * newTokens || input.positionIds.length !== batch * newTokens) fail("ids/positionIds length");
    if (input.keyMask.length !== batch * (cacheLength + newTokens)) fail(`keyMask length ${input.keyMask.length} != ${batch} × (${cacheLength} + ${newTokens})`);
    const rows: RowState[] = [];
    const perPosition: (ArrayLike<number> | undefined)[][] = [];
    for (let b = 0; b < batch; b++) {
      const prev = past?.rows[b];
      const row: RowState = { ids: [...(prev?.ids ?? [])], real: [...(prev?.real ?? [])] };
      for (let k = 0; k < cacheLength; k++) if ((input.keyMask[b * (cacheLength + newTokens) + k] === 1) !== row.real[k]) fail(`row ${b}: keyMask disagrees with the cache at key ${k}`);
      const outs: (ArrayLike<number> | undefined)[] = [];
      for (let t = 0; t < newTokens; t++) {
        const id = input.ids[b * newTokens + t]!;
        if (!(id >= 0 && id < this.vocabSize)) fail(`row ${b}: id ${id} outside the vocabulary`);
        const real = input.keyMask[b * (cacheLength + newTokens) + cacheLength + t] === 1;
        if (real && row.real.length > 0 && !row.real.at(-1) && row.real.some((r) => r)) fail(`row ${b}: padding between real tokens`);
        const history = row.ids.filter((_, k) => row.real[k]);
        if (real && input.positionIds[b * newTokens + t] !== history.length) fail(`row ${b} token ${t}: position ${input.positionIds[b * newTokens + t]}, expected ${history.length}`);
        row.ids.push(id);
        row.real.push(real);
        if (real && history.length + 1 > this.maxPositions) fail(`row ${b}: more than maxPositions ${this.maxPositions} real tokens`);
        outs.push(real ? this.logitsFn([...history, id]) : undefined);
      }
      if (!row.real.at(-1)) fail(`row ${b}: last key position is padding (prompts must be left-padded)`);
      rows.push(row);
      perPosition.push(outs);
    }
    const v = this.vocabSize;
    const positions = input.allLogits ? newTokens : 1;
    const logits = new Float32Array(batch * positions * v);
    perPosition.forEach((outs, b) => {
      const chosen = input.allLogits ? outs : outs.slice(-1);
      chosen.forEach((l, t) => {
        if (l) logits.set(l, (b * positions + t) * v);
      });
    });
    return { logits, cache: new FakeCache(rows, this) };
  }

  selectRows(cache: KvCache, rows: readonly number[]): KvCache {
    const c = cache as FakeCache;
    if (c.disposed) throw new Error("fake model: selectRows on a disposed cache");
    return new FakeCache(
      rows.map((r) => {
        const row = c.rows[r];
        if (!row) throw new Error(`fake model: selectRows row ${r} of ${c.batch}`);
        return { ids: [...row.ids], real: [...row.real] };
      }),
      this,
    );
  }
}
