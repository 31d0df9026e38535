// LLaMA-Factory's `data/dataset_info.json`: the entry schema (`data/README.md`, `src/llamafactory/data/parser.py`),
// the entry of a ShareGPT file written by this package, and merging entries into an existing file.
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "@infialign/data";
import { z } from "zod";

const PREFIX = "[infialign/train-sft] llamafactory-export";

/** Column names of `dataset_info.json` (`data/README.md`): canonical name → the field in the data file. */
export const DatasetColumnsSchema = z
  .object({
    prompt: z.string(),
    query: z.string(),
    response: z.string(),
    history: z.string(),
    messages: z.string(),
    system: z.string(),
    tools: z.string(),
    images: z.string(),
    videos: z.string(),
    audios: z.string(),
    chosen: z.string(),
    rejected: z.string(),
    kto_tag: z.string(),
  })
  .partial()
  .strict();

export const DatasetTagsSchema = z
  .object({
    role_tag: z.string(),
    content_tag: z.string(),
    user_tag: z.string(),
    assistant_tag: z.string(),
    observation_tag: z.string(),
    function_tag: z.string(),
    system_tag: z.string(),
  })
  .partial()
  .strict();

/** One `dataset_info.json` entry with only the keys LLaMA-Factory knows (`data/README.md`, `src/llamafactory/data/parser.py`). */
export const DatasetInfoEntrySchema = z
  .object({
    hf_hub_url: z.string(),
    ms_hub_url: z.string(),
    script_url: z.string(),
    cloud_file_name: z.string(),
    file_name: z.string(),
    formatting: z.enum(["alpaca", "sharegpt"]),
    ranking: z.boolean(),
    subset: z.string(),
    split: z.string(),
    folder: z.string(),
    num_samples: z.number().int().positive(),
    columns: DatasetColumnsSchema,
    tags: DatasetTagsSchema,
  })
  .partial()
  .strict()
  .refine((e) => [e.hf_hub_url, e.ms_hub_url, e.script_url, e.cloud_file_name, e.file_name].some((v) => v !== undefined), {
    message: "needs one of hf_hub_url, ms_hub_url, script_url, cloud_file_name, file_name",
  });
export type DatasetInfoEntry = z.infer<typeof DatasetInfoEntrySchema>;

/** ShareGPT tags for our records (`from` / `value`, human / gpt). */
export const SHAREGPT_TAGS = {
  role_tag: "from",
  content_tag: "value",
  user_tag: "human",
  assistant_tag: "gpt",
  observation_tag: "observation",
  function_tag: "function_call",
  system_tag: "system",
} as const;

/**
 * The `dataset_info.json` entry of a ShareGPT JSONL file written by this module (every row has `conversations` and
 * `system`, see {@link SharegptRecord}). With `ranking` (preference data), the `chosen` and `rejected` columns are
 * added, as LLaMA-Factory's ShareGPT DPO format expects. `numSamples` is written only when given: LLaMA-Factory then
 * draws that many rows (a random permutation of the file, topped up by sampling with replacement; `data/loader.py`),
 * so it resamples even when it equals the row count.
 */
export function sharegptDatasetInfo(fileName: string, options: { ranking?: boolean; numSamples?: number } = {}): DatasetInfoEntry {
  return {
    file_name: fileName,
    formatting: "sharegpt",
    ...(options.ranking ? { ranking: true } : {}),
    ...(options.numSamples !== undefined ? { num_samples: options.numSamples } : {}),
    columns: { messages: "conversations", system: "system", ...(options.ranking ? { chosen: "chosen", rejected: "rejected" } : {}) },
    tags: { ...SHAREGPT_TAGS },
  };
}

/**
 * Adds entries to `<dir>/dataset_info.json`, keeping the entries already there (so SFT and DPO exports can share one
 * data directory); an entry of the same name is replaced. Every entry is validated. Returns the file's path.
 */
export async function writeDatasetInfo(dir: string, entries: Record<string, DatasetInfoEntry>): Promise<string> {
  const path = join(dir, "dataset_info.json");
  let existing: Record<string, unknown> = {};
  if (existsSync(path)) {
    try {
      existing = JSON.parse(await readFile(path, "utf8"));
    } catch (cause) {
      throw new Error(`${PREFIX}: ${path} exists but is not valid JSON; fix or delete it.`, { cause });
    }
  }
  const merged = { ...existing, ...entries };
  for (const [name, entry] of Object.entries(merged)) {
    const parsed = DatasetInfoEntrySchema.safeParse(entry);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(entry)"}: ${i.message}`).join("; ");
      throw new Error(`${PREFIX}: dataset_info.json entry "${name}" is invalid (${problems}).`);
    }
  }
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(path, `${JSON.stringify(merged, null, 2)}\n`);
  return path;
}
