// LLaMA-Factory's ShareGPT format (`data/README.md`): chat messages as `conversations` of human/gpt turns and a
// `system` column, with the alternation rules its converter enforces.
import type { ChatTemplateMessage, Sample } from "@infialign/data";
import { z } from "zod";
import { sampleConversation } from "../data/tokenize.js";

const PREFIX = "[infialign/train-sft] llamafactory-export";

export type SharegptRole = "human" | "gpt" | "observation" | "function_call";

export interface SharegptTurn {
  from: SharegptRole;
  value: string;
}

/**
 * One ShareGPT SFT record: `conversations` alternate human/observation (odd positions) and gpt/function_call (even).
 * `system` is on every record, `""` when there is none: dataset_info.json maps the column, and LLaMA-Factory's
 * converter reads a mapped column from every row (`example["system"]`, a KeyError when the file has no such key); an
 * empty system prompt is what it uses for an unmapped column too, so `""` means "the template's default".
 */
export interface SharegptRecord {
  conversations: SharegptTurn[];
  system: string;
}

const ROLE_TO_SHAREGPT: Record<string, SharegptRole> = { user: "human", assistant: "gpt", tool: "observation" };

/**
 * Maps chat messages to ShareGPT turns: user → human, assistant → gpt, tool → observation; a leading system message
 * becomes the record's `system` (`""` without one). Throws (naming `where`) when turns do not alternate as LLaMA-Factory requires
 * (human/observation first and at every odd position, gpt at every even one), since LLaMA-Factory drops such records
 * with only a warning.
 */
export function toSharegptMessages(messages: readonly ChatTemplateMessage[], where: string): SharegptRecord {
  const record: SharegptRecord = { conversations: [], system: "" };
  messages.forEach((m, i) => {
    if (m.role === "system") {
      if (i !== 0) throw new Error(`${PREFIX}: ${where}: a system message at position ${i}; ShareGPT allows one, first.`);
      record.system = m.content;
      return;
    }
    const from = ROLE_TO_SHAREGPT[m.role];
    if (from === undefined) throw new Error(`${PREFIX}: ${where}: role "${m.role}" has no ShareGPT equivalent (user, assistant, tool, system).`);
    record.conversations.push({ from, value: m.content });
  });
  const problem = alternationProblem(record.conversations);
  if (problem) throw new Error(`${PREFIX}: ${where}: ${problem}. Merge consecutive turns of the same side before exporting.`);
  return record;
}

/** A canonical sample as a ShareGPT SFT record, the assistant turn carrying the CoT (`<think>…</think>` + answer, as tokenization does). */
export function toSharegptRecord(sample: Sample): SharegptRecord {
  const { prompt, completion } = sampleConversation(sample);
  return toSharegptMessages([...prompt, completion], `sample ${sample.id}`);
}

function alternationProblem(turns: readonly SharegptTurn[]): string | undefined {
  if (turns.length === 0) return "no turns";
  for (let i = 0; i < turns.length; i++) {
    const from = (turns[i] as SharegptTurn).from;
    const userSide = from === "human" || from === "observation";
    if (userSide !== (i % 2 === 0)) return `turn ${i + 1} is "${from}" but turns must alternate human/observation and gpt/function_call, starting with human`;
  }
  return undefined;
}

export const SharegptTurnSchema = z.object({ from: z.enum(["human", "gpt", "observation", "function_call"]), value: z.string() }).strict();

/**
 * ShareGPT SFT record as LLaMA-Factory's `data/README.md` documents it (`tools` omitted: not exported); `system` is
 * required because {@link sharegptDatasetInfo} maps it and the converter reads mapped columns from every row.
 */
export const SharegptRecordSchema = z
  .object({ conversations: z.array(SharegptTurnSchema).min(1), system: z.string() })
  .strict()
  .superRefine((r, ctx) => {
    const problem = alternationProblem(r.conversations);
    if (problem) ctx.addIssue({ code: "custom", path: ["conversations"], message: problem });
  });
