// Step 1: the example's generator writes the pool's source files (two clean sources, a flawed teacher, injected
// defects), the held-out evaluation split and the dev split used for tuning.
import { isAbsolute, join } from "node:path";
import { type SourcesManifest, writeSources } from "../generator/writeSources.js";

export interface SourceWriterOptions {
  seed: number;
  outDir: string;
  /** Distinct problems in the raw pool (defects are added on top). */
  pool: number;
  /** Held-out evaluation problems. */
  heldOut: number;
}

export interface SourcesResult {
  /** Source files for the data stages (the evaluation splits excluded). */
  files: string[];
  /** `heldout.jsonl`: `{id, problem, answer, domain, difficulty}` per line. */
  heldOut: string;
  /** `dev.jsonl`: the tuning split, same shape; never used for reported accuracy. */
  dev?: string;
  /** Injected defects by kind (exactDuplicates, nearDuplicates, wrongSolutions, answerless, malformed, contaminated). */
  defects: Record<string, number>;
  /** Lines in the source files together. */
  records: number;
  /** Held-out ids copied into the pool (for the contamination check). */
  leakedHeldOut?: string[];
  /** Pool problems per family and per difficulty, before curation. */
  poolByDomain?: Record<string, number>;
  poolByDifficulty?: Record<string, number>;
  /** The teacher source's systematic error per family. */
  flaws?: Record<string, string>;
}

export type SourceWriter = (options: SourceWriterOptions) => Promise<SourcesResult>;

export function sourcesFromManifest(manifest: SourcesManifest, outDir: string): SourcesResult {
  const abs = (p: string) => (isAbsolute(p) ? p : join(outDir, p));
  return {
    files: [manifest.files.math, manifest.files.messages, manifest.files.teacher].map(abs),
    heldOut: abs(manifest.files.heldOut),
    dev: abs(manifest.files.dev),
    defects: { ...manifest.counts.defects },
    records: manifest.counts.records,
    leakedHeldOut: manifest.leakedHeldOut,
    poolByDomain: manifest.counts.poolByDomain,
    poolByDifficulty: manifest.counts.poolByDifficulty,
    flaws: manifest.flaws as Record<string, string>,
  };
}

export const defaultSourceWriter: SourceWriter = async (options) => {
  const manifest = await writeSources({ seed: options.seed, outDir: options.outDir, counts: { pool: options.pool, heldOut: options.heldOut } });
  return sourcesFromManifest(manifest, options.outDir);
};
