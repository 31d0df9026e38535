import { z } from "zod";
import type { Stage } from "../runtime/types.js";
import { computeSampleId, type Sample } from "../schema/sample.js";

export const ExactDedupParamsSchema = z.object({
  /**
   * What makes two records the same: `content` (normalized prompt + response, i.e. the
   * record id) or `prompt` (one record per normalized prompt, whatever the response).
   * @default "content"
   */
  key: z.enum(["content", "prompt"]).default("content"),
});
export type ExactDedupParams = z.input<typeof ExactDedupParamsSchema>;

/**
 * Exact deduplication by normalized content hash: the first occurrence is kept, later
 * ones go to `duplicates.jsonl` with the id of the record they duplicate. Memory is one
 * 32-character key per distinct record (~100 bytes), so 1M distinct records need ~100 MB.
 */
export function exactDedupStage(params: ExactDedupParams = {}): Stage<Sample, Sample, z.output<typeof ExactDedupParamsSchema>> {
  const resolved = ExactDedupParamsSchema.parse(params);
  // key → id of the kept record (equal to the key in content mode, so a Set suffices).
  const seenContent = new Set<string>();
  const seenPrompt = new Map<string, string>();
  const keyOf = (s: Sample) => (resolved.key === "content" ? s.id : computeSampleId(s.prompt));
  const remember = (s: Sample) => {
    if (resolved.key === "content") seenContent.add(s.id);
    else seenPrompt.set(keyOf(s), s.id);
  };
  const keptIdFor = (s: Sample) => (resolved.key === "content" ? (seenContent.has(s.id) ? s.id : undefined) : seenPrompt.get(keyOf(s)));

  return {
    name: "dedup",
    version: "1",
    params: resolved,
    async restore(kept) {
      for await (const sample of kept) remember(sample);
    },
    async *run(records, ctx) {
      for await (const sample of records) {
        const keptId = keptIdFor(sample);
        if (keptId !== undefined) {
          ctx.duplicate(sample, keptId);
          continue;
        }
        remember(sample);
        yield sample;
      }
    },
    finish: () => ({ distinct: resolved.key === "content" ? seenContent.size : seenPrompt.size, key: resolved.key }),
    // Sharded: partition on the key's hash; each partition keeps the first position of every key, so the kept record
    // and the duplicates' `duplicateOf` are those of the streaming pass.
    sharding: {
      kind: "global",
      partitions: DEDUP_PARTITIONS,
      async map(records, emit) {
        for await (const { record, position } of records) {
          const key = keyOf(record);
          emit(partitionOf(key, DEDUP_PARTITIONS), resolved.key === "content" ? [key, position] : [key, position, record.id]);
        }
      },
      async reduce(rows) {
        const kept = new Map<string, string>();
        const decisions: Array<[number, string]> = [];
        for await (const [key, position, id] of rows as AsyncIterable<[string, number, string?]>) {
          const first = kept.get(key);
          if (first === undefined) kept.set(key, id ?? key);
          else decisions.push([position, first]);
        }
        return { decisions, stats: { distinct: kept.size, key: resolved.key } };
      },
      async *apply(records, decision, _state, ctx) {
        for await (const { record, position } of records) {
          const duplicateOf = decision(position) as string | undefined;
          if (duplicateOf === undefined) yield record;
          else ctx.duplicate(record, duplicateOf);
        }
      },
      combineStats: ({ reduce }) => ({ distinct: reduce.reduce((n, s) => n + (s.distinct as number), 0), key: resolved.key }),
    },
  };
}

/** Fixed, so the partitioning (and the order of the decisions) never depends on the number of workers. */
const DEDUP_PARTITIONS = 16;

/** FNV-1a of the key: ids are usually hex digests, but a user's ids need not be. */
function partitionOf(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % partitions;
}
