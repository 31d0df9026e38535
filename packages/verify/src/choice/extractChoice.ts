import { extractBoxed } from "@infialign/data";
import { stripThinking } from "../math/extract.js";

export interface ChoiceOptions {
  /** Number of options (letters A…) or the option texts in order, which also lets an echoed option text count. */
  options: 4 | 10 | number | readonly string[];
  /** Ignore `<think>…</think>` content. @default true */
  ignoreThinking?: boolean;
}

export interface ChoiceExtraction {
  letter?: string;
  reason: "extracted" | "ambiguous" | "no_answer";
}

export interface ChoiceVerdict {
  correct: boolean;
  reason: "extracted" | "ambiguous" | "no_answer";
  extracted?: string;
}

const STATEMENT = /(?:answer|option|choice)\s*\**\s*(?:is|should be|would be|[:：])\s*[:：]?[^\n.!?]{0,60}/gi;

function lettersIn(span: string, valid: string): string[] {
  const out: string[] = [];
  // A letter standing alone: "(C)", "C.", "**C**", "\text{C}", but not the "A" of "A train".
  const re = /(?:^|[^A-Za-z])\(?([A-Z])\)?(?![A-Za-z])/g;
  for (const m of span.matchAll(re)) {
    const l = m[1]!;
    if (valid.includes(l)) out.push(l);
  }
  return out;
}

function decide(letters: string[]): ChoiceExtraction | undefined {
  if (letters.length === 0) return undefined;
  const distinct = new Set(letters);
  return distinct.size === 1 ? { letter: letters[0]!, reason: "extracted" } : { reason: "ambiguous" };
}

/**
 * The option letter a model output chose. Tried in order: `\boxed{C}`, "answer is (C)" /
 * "Answer: C", a bold `**C**`, a lone letter on the last line, then an echoed option text.
 * The first rule that finds letters decides; two different letters there → ambiguous.
 */
export function extractChoice(output: string, opts: ChoiceOptions): ChoiceExtraction {
  const count = typeof opts.options === "number" ? opts.options : opts.options.length;
  const valid = "ABCDEFGHIJKLMNOPQRSTUVWXYZ".slice(0, Math.max(1, Math.min(26, count)));
  const text = opts.ignoreThinking === false ? String(output ?? "") : stripThinking(String(output ?? ""));

  const boxed = extractBoxed(text);
  if (boxed !== undefined) {
    const d = decide(lettersIn(boxed.replace(/\\text\{([^}]*)\}/g, "$1"), valid));
    if (d) return d;
  }
  // The last "answer is …" statement that names letters decides: models restate and correct themselves.
  let stated: string[] = [];
  for (const m of text.matchAll(STATEMENT)) {
    const letters = lettersInHead(m[0], valid);
    if (letters.length) stated = letters;
  }
  const fromStatement = decide(stated);
  if (fromStatement) return fromStatement;
  const bold = [...text.matchAll(/\*\*\(?([A-Z])\)?[.:]?\*\*/g)].map((m) => m[1]!).filter((l) => valid.includes(l));
  const b = decide(bold);
  if (b) return b;
  const lines = text.trim().split("\n");
  const lastLine = lines[lines.length - 1]?.trim() ?? "";
  const lone = /^\(?([A-Z])\)?[.:]?$/.exec(lastLine);
  if (lone?.[1] && valid.includes(lone[1])) return { letter: lone[1], reason: "extracted" };
  if (typeof opts.options !== "number") {
    const tail = text.slice(-400).toLowerCase();
    const hits = opts.options.map((o, i) => ({ i, o: o.trim().toLowerCase() })).filter(({ o }) => o.length > 0 && tail.includes(o));
    // A short option inside a longer one ("5" in "15") is not an echo of it.
    const maximal = hits.filter((h) => !hits.some((g) => g !== h && g.o.includes(h.o)));
    if (maximal.length === 1) return { letter: valid[maximal[0]!.i]!, reason: "extracted" };
    if (maximal.length > 1) return { reason: "ambiguous" };
  }
  return { reason: "no_answer" };
}

function lettersInHead(statement: string, valid: string): string[] {
  const m = /(?:is|should be|would be|[:：])\s*[:：]?\s*(?:option\s*)?(?:\\boxed\{)?([^\n]*)/i.exec(statement.replace(/\*\*/g, "").replace(/\\text\{([^}]*)\}/g, "$1"));
  const span = m?.[1] ?? "";
  const head = /^\s*\$?\\?\(?\s*\(?([A-Z])\)?(?![A-Za-z])(?:\s*(?:or|and|,|\/)\s*\(?([A-Z])\)?(?![A-Za-z]))?/.exec(span);
  return [head?.[1], head?.[2]].filter((l): l is string => l !== undefined && valid.includes(l));
}

/** Whether the output chose `goldLetter` (case-insensitive). */
export function verifyChoice(goldLetter: string, output: string, opts: ChoiceOptions): ChoiceVerdict {
  try {
    const r = extractChoice(output, opts);
    const gold = String(goldLetter ?? "").trim().replace(/^\(|\)$/g, "").toUpperCase();
    return { correct: r.letter !== undefined && r.letter === gold, reason: r.reason, ...(r.letter !== undefined && { extracted: r.letter }) };
  } catch {
    return { correct: false, reason: "no_answer" };
  }
}
