import { type OpenAIChatClient, TeacherRequestError } from "@infialign/data";
import { parsePairVerdict, parseScore } from "./parseScore.js";

export interface JudgeConfig {
  /** Client of the judge model. */
  client: OpenAIChatClient;
  /** Judge samples per rubric score; the score is their median. @default 3 */
  samples?: number;
  /** Sampling temperature of the judge. @default 0.7 */
  temperature?: number;
  /** Completion budget per judge reply, in tokens. @default 1024 */
  maxTokens?: number;
  /** Lowest score that passes, on the 1–10 scale. @default 7 */
  threshold?: number;
  /** Seed of the first sample; sample i uses seed + i so samples differ yet replay from a cache. @default 0 */
  seed?: number;
}

export interface RubricScore {
  /** Median of the parsed samples, null when none parsed. */
  score: number | null;
  /** score >= threshold. */
  passed: boolean;
  /** Parsed scores, in sample order. */
  samples: number[];
  /** Replies with no readable score in range. */
  parseFailures: number;
  /** Samples whose request failed for good (after the client's retries). */
  requestErrors: number;
}

export interface PairVerdict {
  winner: "A" | "B" | "tie";
  /** Verdict with A shown first, undefined when unreadable or the request failed. */
  forward: "A" | "B" | "tie" | undefined;
  /** Verdict with B shown first, mapped back to the original labels. */
  swapped: "A" | "B" | "tie" | undefined;
  /** Both orders agreed. */
  consistent: boolean;
}

export interface Judge {
  scoreRubric(prompt: string, response: string, rubric: string): Promise<RubricScore>;
  comparePair(prompt: string, a: string, b: string): Promise<PairVerdict>;
}

function rubricPrompt(prompt: string, response: string, rubric: string): string {
  return [
    "Please act as an impartial judge and rate the response below to the user's question on a scale of 1 to 10 using this rubric.",
    `[Rubric]\n${rubric}`,
    `[Question]\n${prompt}`,
    `[Response]\n${response}`,
    'Explain briefly, then give your rating strictly in this format: "Rating: [[5]]".',
  ].join("\n\n");
}

function pairPrompt(prompt: string, first: string, second: string): string {
  return [
    "Please act as an impartial judge and decide which of two AI assistants answered the user's question better. Do not let the order of the answers or their length sway you.",
    `[Question]\n${prompt}`,
    `[Assistant A]\n${first}`,
    `[Assistant B]\n${second}`,
    'Explain briefly, then give your verdict strictly as "[[A]]" if A is better, "[[B]]" if B is better, or "[[C]]" for a tie.',
  ].join("\n\n");
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** LLM-as-judge: rubric scores (median of samples) and position-swapped pairwise comparison (MT-Bench, Zheng et al. 2023). */
export function createJudge(config: JudgeConfig): Judge {
  const { client, samples = 3, temperature = 0.7, maxTokens = 1024, threshold = 7, seed = 0 } = config;
  if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`[infialign/verify] judge: samples must be a positive integer, got ${samples}`);

  async function ask(content: string, sampleSeed: number): Promise<string | undefined> {
    try {
      const res = await client.chat({ messages: [{ role: "user", content }], temperature, max_tokens: maxTokens, seed: sampleSeed });
      return res.choices[0]?.content ?? "";
    } catch (error) {
      // A judge outage on one sample should cost that sample, not the whole record.
      if (error instanceof TeacherRequestError) return undefined;
      throw error;
    }
  }

  return {
    async scoreRubric(prompt, response, rubric) {
      const content = rubricPrompt(prompt, response, rubric);
      const replies = await Promise.all(Array.from({ length: samples }, (_, i) => ask(content, seed + i)));
      const parsed: number[] = [];
      let parseFailures = 0;
      let requestErrors = 0;
      for (const reply of replies) {
        if (reply === undefined) requestErrors++;
        else {
          const score = parseScore(reply);
          if (score === undefined) parseFailures++;
          else parsed.push(score);
        }
      }
      const score = parsed.length > 0 ? median(parsed) : null;
      return { score, passed: score !== null && score >= threshold, samples: parsed, parseFailures, requestErrors };
    },

    async comparePair(prompt, a, b) {
      const [fwdReply, swapReply] = await Promise.all([ask(pairPrompt(prompt, a, b), seed), ask(pairPrompt(prompt, b, a), seed)]);
      const forward = fwdReply === undefined ? undefined : parsePairVerdict(fwdReply);
      const raw = swapReply === undefined ? undefined : parsePairVerdict(swapReply);
      const swapped = raw === "A" ? "B" : raw === "B" ? "A" : raw;
      // MT-Bench: a winner only when both orders agree; disagreement or an unreadable verdict is a tie.
      const consistent = forward !== undefined && forward === swapped;
      return { winner: consistent ? forward : "tie", forward, swapped, consistent };
    },
  };
}
