import { z } from "zod";
import type { Protocol } from "./types.js";

/**
 * DeepSeek-R1's sampling protocol (DeepSeek-R1 `README.md` L102, L190-192): temperature 0.6, top_p 0.95, up to
 * 32,768 generated tokens, no system prompt. One sample per problem unless a preset or override says more.
 */
export const DEFAULT_PROTOCOL: Protocol = Object.freeze({
  temperature: 0.6,
  topP: 0.95,
  maxTokens: 32_768,
  samples: Object.freeze({ default: 1 }) as Record<string, number>,
  k: Object.freeze([1]) as number[],
  seed: 0,
}) as Protocol;

function frozen(p: Protocol): Protocol {
  Object.freeze(p.samples);
  Object.freeze(p.k);
  return Object.freeze(p);
}

/** Named protocols. */
export type ProtocolPreset = "default" | "r1" | "open-r1" | "quick";

/**
 * - `r1`: DeepSeek-R1's report: 64 samples on every benchmark, pass@1 = avg@64 and cons@64 (maj@64).
 * - `open-r1`: open-r1's lighteval reproduction (open-r1 `README.md` L526-540): avg@64 on AIME, 4 samples on
 *   MATH-500, 8 on GPQA-Diamond, 16 on LiveCodeBench, same T/top_p/32k tokens.
 * - `quick`: one sample, 1,024 tokens, for tests and CI smoke runs.
 */
export const PROTOCOL_PRESETS: Readonly<Record<ProtocolPreset, Protocol>> = Object.freeze({
  default: DEFAULT_PROTOCOL,
  r1: frozen({ ...DEFAULT_PROTOCOL, samples: { default: 64 }, k: [1, 64] }),
  "open-r1": frozen({
    ...DEFAULT_PROTOCOL,
    samples: { default: 1, aime24: 64, aime25: 64, math500: 4, "gpqa-diamond": 8, livecodebench: 16 },
    k: [1],
  }),
  quick: frozen({ ...DEFAULT_PROTOCOL, maxTokens: 1_024, samples: { default: 1 }, k: [1] }),
});

/** Overrides of a preset; `samples` entries are merged into the preset's per-benchmark counts. */
export type ProtocolOverrides = Partial<Omit<Protocol, "samples">> & { samples?: Record<string, number> };

const positiveInt = z.number().int().positive();
const ProtocolSchema = z
  .object({
    temperature: z.number().min(0).max(2),
    topP: z.number().gt(0).max(1),
    maxTokens: positiveInt,
    samples: z.record(z.string(), positiveInt).refine((s) => s.default !== undefined, { message: 'needs a "default" entry (samples for benchmarks not listed)' }),
    k: z.array(positiveInt).min(1),
    seed: z.number().int().min(0).max(2 ** 32 - 1),
  })
  .strict();

/**
 * The protocol of a run: preset (default `"default"`), then `overrides` on top (`samples` merged per benchmark).
 * Validated with zod; every invalid field is reported at once. The caller's objects are not mutated.
 */
// `string & {}` keeps editor completion of preset names while accepting CLI input, checked at runtime.
export function resolveProtocol(preset: ProtocolPreset | (string & {}) = "default", overrides: ProtocolOverrides = {}): Protocol {
  const base = Object.hasOwn(PROTOCOL_PRESETS, preset) ? PROTOCOL_PRESETS[preset as ProtocolPreset] : undefined;
  if (!base) throw new Error(`[infialign/eval] protocol: unknown preset "${preset}"; known: ${Object.keys(PROTOCOL_PRESETS).join(", ")}`);
  const merged = { ...base, ...overrides, samples: { ...base.samples, ...(overrides.samples ?? {}) }, k: [...(overrides.k ?? base.k)] };
  const parsed = ProtocolSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new Error(`[infialign/eval] protocol: invalid options (preset "${preset}"):\n  ${lines.join("\n  ")}`);
  }
  return { ...parsed.data, k: [...new Set(parsed.data.k)].sort((a, b) => a - b) };
}

/** Samples drawn per problem of `benchmark` (its own entry, else `default`). */
export function samplesFor(protocol: Protocol, benchmark: string): number {
  return protocol.samples[benchmark] ?? protocol.samples.default ?? 1;
}
