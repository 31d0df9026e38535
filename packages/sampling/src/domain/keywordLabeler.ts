import { canonicalJson, sha256Hex } from "@infialign/data";
import { DEFAULT_KEYWORD_RULES, type KeywordRule } from "./keywordRules.js";
import type { Domain } from "./taxonomy.js";

export interface KeywordLabelerOptions {
  /** @default DEFAULT_KEYWORD_RULES */
  rules?: readonly KeywordRule[];
  /** Least score the winner needs. @default 1 */
  minScore?: number;
  /** Least lead of the winner over the runner-up. @default 0.5 */
  margin?: number;
  /** Weight of matches in the response relative to the prompt. @default 0.5 */
  responseWeight?: number;
}

export interface KeywordLabel {
  domain: Domain;
  score: number;
  source: "keywords";
}

/** Scores each domain by weighted keyword/regex rules; abstains when the winner is weak or close. */
export class KeywordLabeler {
  readonly rules: readonly KeywordRule[];
  readonly minScore: number;
  readonly margin: number;
  readonly responseWeight: number;
  /** Identity of the rules and thresholds (a hash), for cache and stage keys. */
  readonly id: string;

  constructor(options: KeywordLabelerOptions = {}) {
    this.rules = options.rules ?? DEFAULT_KEYWORD_RULES;
    this.minScore = options.minScore ?? 1;
    this.margin = options.margin ?? 0.5;
    this.responseWeight = options.responseWeight ?? 0.5;
    const bad = this.rules.find((r) => !r.pattern.global);
    if (bad) throw new Error(`[infialign/sampling] keyword-labeler: rule for ${bad.domain} (${bad.pattern}) needs the "g" flag`);
    const rules = this.rules.map((r) => [r.domain, r.pattern.source, r.pattern.flags, r.weight, r.maxHits ?? 2]);
    this.id = `keywords:${sha256Hex(canonicalJson({ rules, minScore: this.minScore, margin: this.margin, responseWeight: this.responseWeight })).slice(0, 16)}`;
  }

  /** Score per domain (domains without a match are absent). */
  scores(prompt: string, response = ""): Map<Domain, number> {
    const scores = new Map<Domain, number>();
    // Asymptote figures are drawing code, not a programming task; their presence hints at geometry.
    const figures = count(ASY, prompt);
    prompt = prompt.replace(ASY, " ");
    response = response.replace(ASY, " ");
    if (figures > 0) scores.set("math/geometry", 0.5);
    for (const rule of this.rules) {
      const cap = rule.maxHits ?? 2;
      const hits = Math.min(cap, count(rule.pattern, prompt)) + this.responseWeight * Math.min(cap, count(rule.pattern, response));
      if (hits !== 0) scores.set(rule.domain, (scores.get(rule.domain) ?? 0) + rule.weight * hits);
    }
    return scores;
  }

  label(prompt: string, response = ""): KeywordLabel | undefined {
    let best: Domain | undefined;
    let top = 0;
    let second = 0;
    for (const [domain, score] of this.scores(prompt, response)) {
      if (score > top) {
        second = top;
        top = score;
        best = domain;
      } else if (score > second) second = score;
    }
    if (!best || top < this.minScore || top - second < this.margin) return undefined;
    return { domain: best, score: top, source: "keywords" };
  }
}

const ASY = /\[asy\][\s\S]*?(?:\[\/asy\]|$)/g;

function count(pattern: RegExp, text: string): number {
  if (!text) return 0;
  pattern.lastIndex = 0;
  let n = 0;
  while (pattern.exec(text)) n++;
  return n;
}
