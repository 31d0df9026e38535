import { readRecords, resolveInputs, type Sample, SampleSchema } from "@infialign/data";
import { createRng } from "@infialign/kernels";
import type { DataSelection } from "../curriculum.js";

/** What {@link selectSamples} read and why it dropped samples. */
export interface SelectionReport {
  files: number;
  read: number;
  /** Dropped by each filter, in the order they apply (difficulty, domain, source), and by `maxSamples`. */
  dropped: { difficulty: number; domain: number; source: number; maxSamples: number };
  kept: number;
}

export interface SelectSamplesOptions {
  /** Seed of the `maxSamples` subset. @default 0 */
  seed?: number;
  signal?: AbortSignal;
}

/**
 * Reads a phase's canonical samples: every file of `selection.files` (paths, directories, globs), each record validated
 * against `SampleSchema` (an invalid one is an error naming file, line and field: training data is expected to come out
 * of `@infialign/data` clean), then the difficulty / domain / source filters, then a seeded subset of `maxSamples` kept
 * in file order.
 */
export async function selectSamples(selection: DataSelection, options: SelectSamplesOptions = {}): Promise<{ samples: Sample[]; report: SelectionReport }> {
  const files = await resolveInputs(selection.files);
  const report: SelectionReport = { files: files.length, read: 0, dropped: { difficulty: 0, domain: 0, source: 0, maxSamples: 0 }, kept: 0 };
  const domains = selection.domains && new Set(selection.domains);
  const sources = selection.sources && new Set(selection.sources);
  const { min = -Infinity, max = Infinity } = selection.difficulty ?? {};
  let samples: Sample[] = [];
  for (const file of files) {
    for await (const raw of readRecords(file, { signal: options.signal })) {
      const where = `${raw.loc.file}${raw.loc.line !== undefined ? ` line ${raw.loc.line}` : raw.loc.row !== undefined ? ` row ${raw.loc.row}` : ""}`;
      if (!raw.ok) throw new Error(`[infialign/train-sft] select-samples: ${where}: ${raw.message}`);
      const parsed = SampleSchema.safeParse(raw.value);
      if (!parsed.success) {
        const fields = parsed.error.issues.map((i) => `${i.path.join(".") || "(record)"}: ${i.message}`).join("; ");
        throw new Error(`[infialign/train-sft] select-samples: ${where} is not a canonical Sample (${fields}). Run it through @infialign/data first.`);
      }
      report.read++;
      const sample = parsed.data;
      if (selection.difficulty) {
        const level = sample.meta.level;
        if (level === undefined || level < min || level > max) {
          report.dropped.difficulty++;
          continue;
        }
      }
      if (domains && (sample.domain === undefined || !domains.has(sample.domain))) {
        report.dropped.domain++;
        continue;
      }
      if (sources && !sources.has(sample.source)) {
        report.dropped.source++;
        continue;
      }
      samples.push(sample);
    }
  }
  if (selection.maxSamples !== undefined && samples.length > selection.maxSamples) {
    // Partial Fisher–Yates over indices picks a uniform subset; sorting the picks keeps file order.
    const rng = createRng(options.seed ?? 0);
    const idx = samples.map((_, i) => i);
    for (let i = 0; i < selection.maxSamples; i++) {
      const j = i + rng.nextInt(idx.length - i);
      [idx[i], idx[j]] = [idx[j] as number, idx[i] as number];
    }
    const picked = idx.slice(0, selection.maxSamples).sort((a, b) => a - b);
    report.dropped.maxSamples = samples.length - picked.length;
    samples = picked.map((i) => samples[i] as Sample);
  }
  report.kept = samples.length;
  return { samples, report };
}
