import type { Sample, Stage } from "@infialign/data";
import { estimateJaccard, lshThreshold, type MinHashConfig, MinHasher, resolveMinHashConfig } from "@infialign/decontam";
import { betterCandidate, decodeSignature, encodeSignature, isEmptySignature, lshBucketKeys, type NearDupCandidate, type NearDupEdge, type NearDupLink, replayNearDuplicates } from "../nearDup.js";

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

/** Fixed, so the partitioning (and the order of the edges) never depends on the number of workers. */
const NEAR_DUP_PARTITIONS = 16;

/** A map row: the record's position, id and signature, and its LSH bucket keys that fall in the row's partition. */
type NearDupRow = [position: number, id: string, signature: string, ...buckets: number[]];

/**
 * Near-duplicate removal within the pool by MinHash + LSH (streaming): each record's
 * signature is queried against the records kept so far; the candidate with the highest
 * estimated Jaccard ≥ `threshold` (ties: the earliest record) makes it a duplicate
 * (`ctx.duplicate(record, keptId)`), else it is kept and indexed. Memory is one signature
 * (4 × bands × rowsPerBand bytes) and one id per kept record, never the texts. On resume,
 * `restore` re-indexes the kept output.
 *
 * Sharded (`processes`, `bullmq` executors): map signs each record and sends it, with its bucket keys, to the
 * partitions of those keys; each partition's reduce pairs the records that share a bucket and emits the pairs at or
 * above `threshold` as edges (later position → earlier record), each pair once and copies as clones of their first
 * (so a cluster of m copies costs m edges, not m²); one merge replays the streaming decision over all
 * edges in position order (`replayNearDuplicates`); apply marks the duplicates. Same output as the streaming pass.
 */
export function nearDupStage(options: NearDupStageOptions = {}): Stage<Sample, Sample, NearDupParams> {
  const params = resolveNearDupParams(options);
  const { bands, rowsPerBand, threshold } = params;
  let hasher: MinHasher | undefined;
  const buckets = new Map<number, number[]>();
  const signatures: Uint32Array[] = [];
  const ids: string[] = [];
  let duplicates = 0;
  let appliedKept = 0;
  const getHasher = async () => (hasher ??= await MinHasher.create(params));
  const keep = (sig: Uint32Array, keys: readonly number[], id: string) => {
    const index = ids.length;
    for (const key of keys) {
      const list = buckets.get(key);
      if (list) list.push(index);
      else buckets.set(key, [index]);
    }
    signatures.push(sig);
    ids.push(id);
  };
  return {
    name: "near-dup",
    // 2: ties between equally similar kept records go to the earliest (was: the first LSH candidate found).
    version: "2",
    params,
    async restore(kept) {
      const h = await getHasher();
      for await (const s of kept) {
        const sig = h.signature(textOf(s, params.field));
        keep(sig, lshBucketKeys(sig, bands, rowsPerBand), s.id);
      }
    },
    async *run(records, ctx) {
      const h = await getHasher();
      for await (const s of records) {
        const sig = h.signature(textOf(s, params.field));
        const keys = lshBucketKeys(sig, bands, rowsPerBand);
        let best: NearDupCandidate | undefined;
        if (!isEmptySignature(sig)) {
          const seen = new Set<number>();
          for (const key of keys) {
            for (const cand of buckets.get(key) ?? []) {
              if (seen.has(cand)) continue;
              seen.add(cand);
              const jaccard = estimateJaccard(sig, signatures[cand]!);
              if (jaccard < threshold) continue;
              const c = { order: cand, id: ids[cand]!, jaccard };
              if (betterCandidate(c, best)) best = c;
            }
          }
        }
        if (best) {
          duplicates++;
          ctx.count("near_duplicates");
          ctx.duplicate(s, best.id);
          continue;
        }
        keep(sig, keys, s.id);
        yield s;
      }
    },
    finish: () => ({ kept: ids.length, duplicates, threshold }),
    sharding: {
      kind: "global",
      partitions: NEAR_DUP_PARTITIONS,
      async map(records, emit) {
        const h = await getHasher();
        const parts = new Map<number, number[]>();
        for await (const { record, position } of records) {
          const sig = h.signature(textOf(record, params.field));
          parts.clear();
          for (const key of lshBucketKeys(sig, bands, rowsPerBand)) {
            // key mod 16 = the band hash mod 16 (2^32 is a multiple of 16): well mixed.
            const p = key % NEAR_DUP_PARTITIONS;
            const list = parts.get(p);
            if (list) list.push(key);
            else parts.set(p, [key]);
          }
          const encoded = encodeSignature(sig);
          for (const [p, keys] of parts) emit(p, [position, record.id, encoded, ...keys] satisfies NearDupRow);
        }
      },
      // Rows come in position order, so every record meets the earlier members of its buckets. Records are bucketed
      // whether or not they are kept (only the merge knows); empty texts never look for a match. Two cuts keep the
      // edges linear in a cluster of copies (many sampled responses to one prompt), where comparing all pairs would be
      // quadratic: a pair is emitted only by the partition of the lowest band where the two collide, and a row whose
      // signature equals an earlier row's is not compared or bucketed at all but emitted once as that row's clone
      // (`replayNearDuplicates` says why that is exact). Equal signatures share all keys, hence all partitions, so
      // every partition sees the same first row of them.
      async reduce(rows) {
        const members = new Map<number, number[]>();
        const positions: number[] = [];
        const rowIds: string[] = [];
        const sigs: Uint32Array[] = [];
        const allKeys: number[][] = [];
        const first = new Map<string, number>();
        const edges: NearDupEdge[] = [];
        const seen = new Set<number>();
        for await (const row of rows as AsyncIterable<NearDupRow>) {
          const [position, id, encoded] = row;
          const partition = (row[3] as number) % NEAR_DUP_PARTITIONS;
          const f = first.get(encoded);
          if (f !== undefined) {
            // A later empty text is kept and matches like the first one, which comes earlier: it needs nothing. A
            // clone is emitted by the partition of its band-0 key (the row's keys ascend, band 0's is below 2^32).
            if (!isEmptySignature(sigs[f]!) && (row[3] as number) < 2 ** 32) edges.push([position, { cloneOf: positions[f]!, id: rowIds[f]! }]);
            continue;
          }
          const sig = decodeSignature(encoded);
          const keys = lshBucketKeys(sig, bands, rowsPerBand);
          const index = positions.length;
          first.set(encoded, index);
          positions.push(position);
          rowIds.push(id);
          sigs.push(sig);
          allKeys.push(keys);
          const empty = isEmptySignature(sig);
          seen.clear();
          for (let i = 3; i < row.length; i++) {
            const key = row[i] as number;
            const list = members.get(key);
            if (!list) {
              members.set(key, [index]);
              continue;
            }
            if (!empty) {
              for (const m of list) {
                if (seen.has(m)) continue;
                seen.add(m);
                const other = allKeys[m]!;
                let band = 0;
                while (keys[band] !== other[band]) band++;
                if (keys[band]! % NEAR_DUP_PARTITIONS !== partition) continue;
                const jaccard = estimateJaccard(sig, sigs[m]!);
                if (jaccard >= threshold) edges.push([position, { order: positions[m]!, id: rowIds[m]!, jaccard, laterId: id }]);
              }
            }
            list.push(index);
          }
        }
        return { decisions: edges };
      },
      async merge(reduced) {
        const edges: NearDupEdge[] = [];
        for await (const [later, link] of reduced) edges.push([later, link as NearDupLink]);
        const decisions = replayNearDuplicates(edges);
        return { decisions, stats: { duplicates: decisions.length } };
      },
      async *apply(records, decision, _state, ctx) {
        for await (const { record, position } of records) {
          const duplicateOf = decision(position) as string | undefined;
          if (duplicateOf === undefined) {
            appliedKept++;
            yield record;
            continue;
          }
          ctx.count("near_duplicates");
          ctx.duplicate(record, duplicateOf);
        }
      },
      applyStats: () => ({ kept: appliedKept }),
      combineStats: ({ merge, apply }) => ({
        kept: apply.reduce((n, s) => n + ((s.kept as number | undefined) ?? 0), 0),
        duplicates: (merge?.duplicates as number | undefined) ?? 0,
        threshold,
      }),
    },
  };
}
