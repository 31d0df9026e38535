import { join } from "node:path";
import { canonicalJson, DiskCache, type Message, type RejectCode, type Sample, type Stage, type StageContext, sha256Hex, TeacherRequestError } from "@infialign/data";
import { extractAnswer, type Judge } from "@infialign/verify";
import pLimit from "p-limit";
import { type PairConfig, resolvePairConfig } from "./config.js";
import { ngramRepetition } from "./repetition.js";
import type { ResponseSampler, SampledResponse } from "./samplers.js";
import { defaultVerifier, type PairVerdict, type PairVerifier, UNCERTAIN_REASONS } from "./verifier.js";

/** Why a rejected candidate was dropped by cleaning, in the order the checks run. */
export const CLEANING_REASONS = ["uncertain_verdict", "truncated", "no_answer", "degenerate_repetition", "identical_pair", "length_ratio"] as const;
export type CleaningReason = (typeof CLEANING_REASONS)[number];

/**
 * Reject codes of the stage, one per dropped prompt: input checks (`missing_gold`, `missing_expert_solution`),
 * quality verification of the chosen response (`chosen_unverified`, `chosen_degenerate`), sampling (`sampling_failed`),
 * challenge selection (`too_easy`, `too_hard`), cleaning (a {@link CleaningReason}: the most frequent one among the
 * dropped candidates, when none survives) and the LLM-judge gate (`judge_failed`).
 */
export type PairRejectCode =
  | "missing_gold"
  | "missing_expert_solution"
  | "chosen_unverified"
  | "chosen_degenerate"
  | "sampling_failed"
  | "too_easy"
  | "too_hard"
  | CleaningReason
  | "judge_failed";

/** What happened to one of the k sampled responses. */
export interface SampleAudit {
  index: number;
  correct: boolean;
  /** Verifier reason (`equal_exact`, `unequal`, `no_answer`, …). */
  reason: string;
  extracted?: string;
  finishReason: string | null;
  chars: number;
  /** Cleaning reason, for incorrect responses that were not usable as the rejected response. */
  dropped?: CleaningReason;
}

export interface PreferenceMeta {
  /** Id of the input `Sample`. */
  sample_id: string;
  gold: string;
  /** k_correct / k of the SFT model on this prompt. */
  pass_rate: number;
  k: number;
  k_correct: number;
  /** Index of the sample used as the rejected response. */
  rejected_index: number;
  /** `ResponseSampler.id`: model and sampling settings. */
  sampler: string;
  verifier: { chosen: PairVerdict; samples: SampleAudit[] };
  repetition: { chosen: number; rejected: number };
  /** Characters of the longer response / the shorter one. */
  length_ratio: number;
  /** LLM-judge rubric score of the chosen response, when the gate is on. */
  judge?: { score: number | null; samples: number[] };
}

/**
 * A preference pair in TRL's conversational preference format with an explicit prompt
 * (`docs/source/dataset_formats.md`): `prompt` holds the turns before the answer, `chosen` and `rejected` the answer.
 */
export interface PreferenceRecord {
  id: string;
  source: string;
  domain?: string;
  prompt: Message[];
  chosen: Message[];
  rejected: Message[];
  meta: PreferenceMeta;
}

export interface PairStageDeps {
  /** The SFT model's responses: `localSampler` or `openAISampler`. */
  sampler: ResponseSampler;
  /** @default defaultVerifier (verifyChoice for `meta.options`, else verifyMath) */
  verifier?: PairVerifier;
  /** LLM judge for the optional quality gate on the chosen response (give its client a DiskCache so reruns replay). */
  judge?: Judge;
  /** Where sampled responses persist (one file per sample). @default `<stage cache dir>/samples` */
  cacheDir?: string;
}

/** What the stage hashes into its manifest: the settings that change its output. */
export type PairStageParams = Omit<PairConfig, "concurrency"> & { sampler: string; judge: boolean };

type Outcome = { record: PreferenceRecord } | { reject: { record: unknown; code: PairRejectCode; message: string; id: string } } | { error: unknown };

/**
 * InfiAlign DPO pair construction as a pipeline stage: one `Sample` (prompt, `gold` answer, expert solution in
 * `response`) in, at most one {@link PreferenceRecord} out; every dropped prompt goes to the rejects with a
 * {@link PairRejectCode}, so in = out + rejected. Per prompt:
 * 1. input checks; quality verification of the chosen (expert) response, re-verified against the gold answer (done
 *    first because it needs no sampling);
 * 2. k responses from the SFT model (persisted as they arrive; a rerun draws only the missing ones), each verified;
 * 3. challenge selection on the pass rate k_correct / k (`passRateBand`);
 * 4. cleaning of the incorrect responses as rejected candidates (uncertain verdicts, truncated, answerless,
 *    degenerate repetition, identical to chosen, extreme length ratio); the first surviving one, by sample index,
 *    becomes `rejected`;
 * 5. the optional LLM-judge gate on the chosen response.
 */
export function pairConstructionStage(options: Partial<PairConfig>, deps: PairStageDeps): Stage<Sample, PreferenceRecord, PairStageParams> {
  const config = resolvePairConfig(options);
  const verifier = deps.verifier ?? defaultVerifier;
  const { concurrency, ...rest } = config;
  const params: PairStageParams = { ...rest, sampler: deps.sampler.id, judge: deps.judge !== undefined };

  return {
    name: "dpo-pairs",
    version: "1",
    params,
    // Reads ahead to keep prompts in flight; replaying is cheap because every sample is persisted.
    resume: "replay",
    async *run(records, ctx) {
      const cache = new DiskCache(deps.cacheDir ?? join(ctx.cacheDir, "samples"));
      const limit = pLimit(concurrency);
      const stop = new AbortController();
      const signal = AbortSignal.any([ctx.signal, stop.signal]);
      const window: Array<Promise<Outcome>> = [];
      const emit = function* (outcome: Outcome): Generator<PreferenceRecord> {
        if ("error" in outcome) throw outcome.error;
        if ("reject" in outcome) {
          const { record, code, message, id } = outcome.reject;
          ctx.reject(record, code, `[infialign/train-dpo] pairs: ${message}`, { id });
        } else yield outcome.record;
      };
      try {
        for await (const sample of records) {
          ctx.signal.throwIfAborted();
          window.push(limit(() => buildPair(sample, cache, signal, ctx)).catch((error: unknown) => ({ error })));
          while (window.length >= concurrency * 2) yield* emit(await window.shift()!);
        }
        while (window.length > 0) yield* emit(await window.shift()!);
        ctx.signal.throwIfAborted();
      } finally {
        stop.abort(new Error("dpo-pairs stage stopped"));
        await Promise.allSettled(window);
      }
    },
  };

  async function buildPair(sample: Sample, cache: DiskCache, signal: AbortSignal, ctx: StageContext): Promise<Outcome> {
    const reject = (code: PairRejectCode, message: string, extra: Record<string, unknown> = {}): Outcome => ({
      reject: { record: { ...sample, ...(Object.keys(extra).length > 0 && { pairs: extra }) }, code, message, id: sample.id },
    });
    const gold = sample.gold;
    if (gold === undefined || gold.trim() === "") return reject("missing_gold", `sample ${sample.id} has no "gold" answer to verify against`);
    const chosenText = sample.response;
    if (chosenText === undefined || chosenText.trim() === "") return reject("missing_expert_solution", `sample ${sample.id} has no expert solution in "response" to use as chosen`);

    const chosenVerdict = verifier(gold, chosenText, sample);
    if (!chosenVerdict.correct) {
      return reject("chosen_unverified", `expert solution does not verify against gold "${gold}" (${chosenVerdict.reason}${chosenVerdict.extracted !== undefined ? `, answered "${chosenVerdict.extracted}"` : ""})`, { chosen: chosenVerdict });
    }
    const chosenRepetition = ngramRepetition(chosenText, config.repetitionNgram);
    if (chosenRepetition > config.maxRepetition) {
      return reject("chosen_degenerate", `expert solution repeats itself (${config.repetitionNgram}-gram repetition ${chosenRepetition.toFixed(3)} > ${config.maxRepetition})`);
    }

    const messages = promptMessages(sample, config);
    let responses: SampledResponse[];
    try {
      responses = await drawSamples(messages, cache, signal, ctx);
    } catch (error) {
      if (error instanceof TeacherRequestError) return reject("sampling_failed", `sampling the SFT model failed: ${error.message}`);
      throw error;
    }

    const audits: SampleAudit[] = responses.map((r, index) => {
      const v = verifier(gold, r.text, sample);
      return { index, correct: v.correct, reason: v.reason, ...(v.extracted !== undefined && { extracted: v.extracted }), finishReason: r.finishReason, chars: r.text.length };
    });
    const kCorrect = audits.filter((a) => a.correct).length;
    const passRate = kCorrect / config.k;
    const [lo, hi] = config.passRateBand;
    // Tolerance: 1/8 = 0.125 must sit inside a band that starts at 0.125.
    if (passRate > hi + 1e-12) return reject("too_easy", `pass rate ${kCorrect}/${config.k} = ${passRate.toFixed(3)} above the band [${lo}, ${hi}]`, { samples: audits });
    if (passRate < lo - 1e-12) return reject("too_hard", `pass rate ${kCorrect}/${config.k} = ${passRate.toFixed(3)} below the band [${lo}, ${hi}]`, { samples: audits });

    // Only reachable with a band that includes 1: no incorrect response, nothing to pair.
    if (kCorrect === config.k) return reject("too_easy", `all ${config.k} responses are correct: no incorrect response to use as rejected`, { samples: audits });

    let picked: { audit: SampleAudit; response: SampledResponse; repetition: number; ratio: number } | undefined;
    for (const audit of audits) {
      if (audit.correct) continue;
      const response = responses[audit.index]!;
      const { reason, repetition, ratio } = cleaningCheck(chosenText, response, audit);
      if (reason) {
        audit.dropped = reason;
        ctx.count(`cleaning_${reason}`);
        continue;
      }
      picked ??= { audit, response, repetition, ratio };
    }
    if (!picked) {
      const dropped = audits.filter((a) => a.dropped !== undefined).map((a) => a.dropped!);
      const code = mostFrequent(dropped);
      const summary = CLEANING_REASONS.filter((r) => dropped.includes(r)).map((r) => `${r}=${dropped.filter((d) => d === r).length}`).join(", ");
      return reject(code, `no incorrect response survived cleaning (${summary})`, { samples: audits });
    }

    let judge: PreferenceMeta["judge"];
    if (deps.judge) {
      const score = await deps.judge.scoreRubric(sample.prompt, chosenText, config.judgeRubric);
      judge = { score: score.score, samples: score.samples };
      if (!score.passed) {
        const why = score.score === null ? `no readable score (${score.parseFailures} unreadable, ${score.requestErrors} failed requests)` : `score ${score.score} below the threshold`;
        return reject("judge_failed", `LLM judge rejected the chosen response: ${why}`, { samples: audits, judge });
      }
    }

    const record: PreferenceRecord = {
      id: sha256Hex(sample.id, picked.response.text).slice(0, 32),
      source: sample.source,
      ...(sample.domain !== undefined && { domain: sample.domain }),
      prompt: messages,
      chosen: [{ role: "assistant", content: chosenText }],
      rejected: [{ role: "assistant", content: picked.response.text }],
      meta: {
        sample_id: sample.id,
        gold,
        pass_rate: passRate,
        k: config.k,
        k_correct: kCorrect,
        rejected_index: picked.audit.index,
        sampler: deps.sampler.id,
        verifier: { chosen: chosenVerdict, samples: audits },
        repetition: { chosen: chosenRepetition, rejected: picked.repetition },
        length_ratio: picked.ratio,
        ...(judge && { judge }),
      },
    };
    return { record };
  }

  /** The k samples of a prompt: persisted ones from the cache, the rest drawn and persisted one by one as they arrive. */
  async function drawSamples(messages: Message[], cache: DiskCache, signal: AbortSignal, ctx: StageContext): Promise<SampledResponse[]> {
    const base = sha256Hex(deps.sampler.id, canonicalJson(messages));
    const keyOf = (i: number) => sha256Hex(base, String(i));
    const out: Array<SampledResponse | undefined> = new Array(config.k);
    const missing: number[] = [];
    for (let i = 0; i < config.k; i++) {
      const hit = (await cache.get(keyOf(i))) as SampledResponse | undefined;
      if (hit && typeof hit.text === "string") out[i] = { text: hit.text, finishReason: hit.finishReason ?? null };
      else missing.push(i);
    }
    ctx.count("samples_cached", config.k - missing.length);
    if (missing.length > 0) {
      const drawn = await deps.sampler.sample({
        messages,
        indices: missing,
        signal,
        onSample: async (i, r) => {
          await cache.set(keyOf(i), r);
          ctx.count("samples_drawn");
        },
      });
      missing.forEach((i, j) => {
        out[i] = drawn[j];
      });
    }
    return out.map((r, i) => {
      if (!r) throw new Error(`[infialign/train-dpo] pairs: sampler "${deps.sampler.id}" returned no response for sample ${i}`);
      return r;
    });
  }

  function cleaningCheck(chosen: string, response: SampledResponse, audit: SampleAudit): { reason?: CleaningReason; repetition: number; ratio: number } {
    const repetition = ngramRepetition(response.text, config.repetitionNgram);
    const shorter = Math.max(1, Math.min(chosen.length, response.text.length));
    const ratio = Math.max(chosen.length, response.text.length) / shorter;
    const reason: CleaningReason | undefined = UNCERTAIN_REASONS.has(audit.reason)
      ? "uncertain_verdict"
      : config.dropTruncated && response.finishReason === "length"
        ? "truncated"
        : extractAnswer(response.text, { priority: config.answerSources }) === undefined
          ? "no_answer"
          : repetition > config.maxRepetition
            ? "degenerate_repetition"
            : normalize(response.text) === normalize(chosen)
              ? "identical_pair"
              : ratio > config.maxLengthRatio
                ? "length_ratio"
                : undefined;
    return { ...(reason && { reason }), repetition, ratio };
  }
}

/** The turns before the answer: the sample's conversation without trailing assistant turns, or system + templated prompt. */
export function promptMessages(sample: Sample, config: Pick<PairConfig, "promptTemplate" | "systemPrompt">): Message[] {
  const system = sample.system ?? config.systemPrompt;
  if (sample.messages && sample.messages.length > 0) {
    const turns = [...sample.messages];
    while (turns.at(-1)?.role === "assistant") turns.pop();
    if (turns.length > 0) return system !== undefined && turns[0]!.role !== "system" ? [{ role: "system", content: system }, ...turns] : turns;
  }
  const out: Message[] = [];
  if (system !== undefined) out.push({ role: "system", content: system });
  out.push({ role: "user", content: config.promptTemplate.replaceAll("{prompt}", () => sample.prompt) });
  return out;
}

function normalize(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function mostFrequent(reasons: CleaningReason[]): RejectCode & CleaningReason {
  let best: CleaningReason = reasons[0] ?? "uncertain_verdict";
  let bestCount = 0;
  for (const r of CLEANING_REASONS) {
    const c = reasons.filter((x) => x === r).length;
    if (c > bestCount) {
      best = r;
      bestCount = c;
    }
  }
  return best;
}
