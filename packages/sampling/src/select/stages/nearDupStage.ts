import type { Sample, Stage } from "@infialign/data";
import { estimateJaccard, LshIndex, lshThreshold, type MinHashConfig, MinHasher, resolveMinHashConfig } from "@infialign/decontam";

export type NearDupStageOptions = Partial<MinHashConfig> & {
  /** Text compared: the prompt alone, or prompt and response. @default "prompt" */
  field?: "prompt" | "prompt+response";
  /**
   * Estimated Jaccard similarity (MinHash) at or above which a record duplicates a kept one.
   * @default lshThreshold(bands, rowsPerBand) ≈ 0.72 for the 14 × 8 default, so candidates and verdicts agree
   */
  threshold?: number;
};

export interface NearDupParams extends MinHashConfig {
  field: "prompt" | "prompt+response";
  threshold: number;
}

/** Resolves near-dup options once; throws naming every invalid field. */
export function resolveNearDupParams(options: NearDupStageOptions = {}): NearDupParams {
  const { field, threshold, ...minhash } = options;
  const config = resolveMinHashConfig(minhash);
  const problems: string[] = [];
  if (field !== undefined && field !== "prompt" && field !== "prompt+response") problems.push('field must be "prompt" or "prompt+response"');
  if (threshold !== undefined && !(threshold > 0 && threshold <= 1)) problems.push(`threshold must be in (0, 1] (got ${threshold})`);
  if (problems.length) throw new Error(`[infialign/sampling] near-dup: invalid options (${problems.join("; ")})`);
  return { ...config, field: field ?? "prompt", threshold: threshold ?? lshThreshold(config.bands, config.rowsPerBand) };
}

const textOf = (s: Sample, field: NearDupParams["field"]) => (field === "prompt" ? s.prompt : `${s.prompt}\n${s.response ?? ""}`);
// A text with no words gets an all-0xffffffff signature, which must not pair with other empty texts.
const isEmpty = (sig: Uint32Array) => sig.every((v) => v === 0xffffffff);

/**
 * Near-duplicate removal within the pool by MinHash + LSH (streaming): each record's
 * signature is queried against the records kept so far; the candidate with the highest
 * estimated Jaccard ≥ `threshold` makes it a duplicate (`ctx.duplicate(record, keptId)`),
 * else it is kept and indexed. Memory is one signature (4 × bands × rowsPerBand bytes) and
 * one id per kept record, never the texts. On resume, `restore` re-indexes the kept output.
 */
export function nearDupStage(options: NearDupStageOptions = {}): Stage<Sample, Sample, NearDupParams> {
  const params = resolveNearDupParams(options);
  let hasher: MinHasher | undefined;
  let index: LshIndex | undefined;
  const signatures: Uint32Array[] = [];
  const ids: string[] = [];
  let duplicates = 0;
  const init = async () => {
    hasher ??= await MinHasher.create(params);
    index ??= new LshIndex(hasher.config);
    return { hasher, index };
  };
  const keep = (lsh: LshIndex, sig: Uint32Array, id: string) => {
    lsh.add(ids.length, sig);
    signatures.push(sig);
    ids.push(id);
  };
  return {
    name: "near-dup",
    version: "1",
    params,
    async restore(kept) {
      const { hasher: h, index: lsh } = await init();
      for await (const s of kept) keep(lsh, h.signature(textOf(s, params.field)), s.id);
    },
    async *run(records, ctx) {
      const { hasher: h, index: lsh } = await init();
      for await (const s of records) {
        const sig = h.signature(textOf(s, params.field));
        let best = -1;
        let bestJ = 0;
        if (!isEmpty(sig)) {
          for (const cand of lsh.query(sig)) {
            const j = estimateJaccard(sig, signatures[cand]!);
            if (j >= params.threshold && j > bestJ) {
              best = cand;
              bestJ = j;
            }
          }
        }
        if (best >= 0) {
          duplicates++;
          ctx.count("near_duplicates");
          ctx.duplicate(s, ids[best]!);
          continue;
        }
        keep(lsh, sig, s.id);
        yield s;
      }
    },
    finish: () => ({ kept: ids.length, duplicates, threshold: params.threshold }),
  };
}
