// A labelled set of real model completions (JSONL named by INFIALIGN_VERIFY_LABELLED, see the README):
// loading with line-by-line validation, and scoring a verdict list against the labels. The set is not
// shipped: completions copied from other repositories are not ours to redistribute.
import { readFileSync } from "node:fs";

export interface LabelledCase {
  id: string;
  /** Repository and path the completion comes from. */
  source: string;
  gold: string;
  prediction: string;
  /** Whether the completion's final answer is correct. */
  label: boolean;
  /** `source`: the publisher's own judgement; `hand`: read and judged for this set (README protocol). */
  labelSource: "source" | "hand";
  /** `dev` may be inspected when fixing the verifier; `heldout` is only scored. */
  split: "dev" | "heldout";
  note?: string;
}

/** The labelled set's path, or undefined when none is configured. */
export const LABELLED_FILE: string | undefined = process.env.INFIALIGN_VERIFY_LABELLED || undefined;

const FIELDS: Array<[keyof LabelledCase, (v: unknown) => boolean, string]> = [
  ["id", (v) => typeof v === "string" && v.length > 0, "a non-empty string"],
  ["source", (v) => typeof v === "string" && v.length > 0, "a non-empty string"],
  ["gold", (v) => typeof v === "string", "a string"],
  ["prediction", (v) => typeof v === "string", "a string"],
  ["label", (v) => typeof v === "boolean", "true or false"],
  ["labelSource", (v) => v === "source" || v === "hand", '"source" or "hand"'],
  ["split", (v) => v === "dev" || v === "heldout", '"dev" or "heldout"'],
];

/** Reads and validates the labelled set; throws naming the line and field of the first bad record. */
export function loadLabelled(file: string): LabelledCase[] {
  const out: LabelledCase[] = [];
  const ids = new Set<string>();
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((line, i) => {
      if (!line.trim()) return;
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch (e) {
        throw new Error(`[infialign/verify] bench: ${file} line ${i + 1} is not JSON (${(e as Error).message})`);
      }
      for (const [field, ok, want] of FIELDS) {
        if (!ok(rec[field])) throw new Error(`[infialign/verify] bench: ${file} line ${i + 1} field "${field}" must be ${want} (got ${JSON.stringify(rec[field])})`);
      }
      const id = rec.id as string;
      if (ids.has(id)) throw new Error(`[infialign/verify] bench: ${file} line ${i + 1} repeats id "${id}"`);
      ids.add(id);
      out.push(rec as unknown as LabelledCase);
    });
  return out;
}

export interface LabelledScore {
  cases: number;
  agreed: number;
  accuracy: number;
  /** Labelled incorrect, judged correct. */
  falseAccepts: number;
  /** Labelled correct, judged incorrect. */
  falseRejects: number;
}

/** Agreement of verdicts (in the order of `cases`) with the labels, for the cases `keep` selects. */
export function scoreLabelled(cases: LabelledCase[], verdicts: boolean[], keep: (c: LabelledCase) => boolean = () => true): LabelledScore {
  let n = 0;
  let agreed = 0;
  let falseAccepts = 0;
  let falseRejects = 0;
  cases.forEach((c, i) => {
    if (!keep(c)) return;
    n++;
    if (verdicts[i] === c.label) agreed++;
    else if (verdicts[i]) falseAccepts++;
    else falseRejects++;
  });
  return { cases: n, agreed, accuracy: n ? agreed / n : 0, falseAccepts, falseRejects };
}
