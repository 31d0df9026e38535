// Step 1: the example's generator writes three source files (MATH-, GSM8K- and messages-style, with injected defects)
// and the held-out evaluation split.
import { isAbsolute, join } from "node:path";
import { type SourcesManifest, writeSources } from "../generator/writeSources.js";

export interface SourceWriterOptions {
  seed: number;
  outDir: string;
  /** Clean, distinct training problems (defects are added on top). */
  pool: number;
  heldOutFraction: number;
}

export interface SourcesResult {
  /** Source files for the data stages (the held-out split excluded). */
  files: string[];
  /** `heldout.jsonl`: `{id, problem, answer, domain, difficulty}` per line. */
  heldOut: string;
  /** Injected defects by kind (exactDuplicates, nearDuplicates, wrongSolutions, answerless, malformed, contaminated). */
  defects: Record<string, number>;
  /** Lines in the three source files together. */
  records: number;
}

export type SourceWriter = (options: SourceWriterOptions) => Promise<SourcesResult>;

export function sourcesFromManifest(manifest: SourcesManifest, outDir: string): SourcesResult {
  const abs = (p: string) => (isAbsolute(p) ? p : join(outDir, p));
  return {
    files: [manifest.files.math, manifest.files.gsm8k, manifest.files.messages].map(abs),
    heldOut: abs(manifest.files.heldOut),
    defects: { ...manifest.counts.defects },
    records: manifest.counts.records,
  };
}

export const defaultSourceWriter: SourceWriter = async (options) => {
  const manifest = await writeSources({ seed: options.seed, outDir: options.outDir, counts: { pool: options.pool }, heldOutFraction: options.heldOutFraction });
  return sourcesFromManifest(manifest, options.outDir);
};
