// Runs the demo's steps in order with completion markers: `<outDir>/<step>/step.json` holds the step's key (a hash of
// its settings and of the keys of the steps it reads) and its result. A rerun skips every step whose marker matches;
// a step without a marker runs again and continues inside itself (runPipeline's stage manifests, trainSft/trainDpo
// checkpoints), so an interrupted run resumes where it stopped. Outputs of other settings are never resumed.
import { existsSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { canonicalJson, sha256Hex, writeFileAtomic } from "@infialign/data";

export const MARKER_NAME = "step.json";
/** Written when a step starts: its partial outputs belong to this key. */
export const STARTED_NAME = "step-started.json";

/** One step of the demo. */
export interface StepDefinition<T> {
  /** Names the step's directory. */
  name: string;
  /** Steps whose outputs this one reads; their keys are part of this step's key. */
  after: readonly string[];
  /** Settings that change the output (hashed into the key). */
  params: unknown;
  /**
   * Does the work in `dir` (created before the call). `resume`: partial outputs in `dir` were started under the same
   * key and may be continued; false under --force and after a change of settings or inputs.
   */
  run(dir: string, resume: boolean): Promise<T>;
}

export interface StepMarker<T> {
  step: string;
  key: string;
  completedAt: string;
  seconds: number;
  result: T;
}

export interface StepRunnerOptions {
  /** Ignore markers: every step runs from scratch. @default false */
  force?: boolean;
  /** One line per step start / skip / finish. @default none */
  log?: (line: string) => void;
  /** @default Date.now */
  now?: () => number;
}

export class StepRunner {
  /** Steps that did work in this process, in order. */
  readonly executed: string[] = [];
  /** Steps whose marker matched. */
  readonly skipped: string[] = [];
  /** Seconds each step took when it did its work (from the marker for skipped steps). */
  readonly seconds: Record<string, number> = {};
  private readonly keys = new Map<string, string>();
  private readonly log: (line: string) => void;
  private readonly now: () => number;

  constructor(
    readonly outDir: string,
    private readonly options: StepRunnerOptions = {},
  ) {
    this.log = options.log ?? (() => {});
    this.now = options.now ?? Date.now;
  }

  dirOf(name: string): string {
    return join(this.outDir, name);
  }

  keyOf(name: string): string {
    const key = this.keys.get(name);
    if (key === undefined) throw new Error(`[infialign/example-full-pipeline] steps: step "${name}" has not run yet; list it in "after" only when it runs earlier.`);
    return key;
  }

  async run<T>(step: StepDefinition<T>): Promise<T> {
    const key = sha256Hex(canonicalJson({ step: step.name, params: step.params ?? null, after: step.after.map((name) => [name, this.keyOf(name)]) }));
    this.keys.set(step.name, key);
    const dir = this.dirOf(step.name);
    const markerPath = join(dir, MARKER_NAME);
    if (!this.options.force && existsSync(markerPath)) {
      const marker = JSON.parse(await readFile(markerPath, "utf8")) as StepMarker<T>;
      if (marker.key === key) {
        this.skipped.push(step.name);
        this.seconds[step.name] = marker.seconds;
        this.log(`${step.name}: complete (${marker.completedAt}), skipped`);
        return marker.result;
      }
      this.log(`${step.name}: settings or inputs changed since the last run, rerunning`);
    }
    // Partial outputs may be continued only when they were started under the same key; otherwise the step starts from
    // an empty directory, so no cache (samples, completions, reference log-probs) of other settings is replayed.
    const startedPath = join(dir, STARTED_NAME);
    const startedKey = existsSync(startedPath) ? (JSON.parse(await readFile(startedPath, "utf8")) as { key?: string }).key : undefined;
    const resume = !this.options.force && startedKey === key;
    if (!resume) await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(startedPath, `${JSON.stringify({ step: step.name, key })}\n`);
    const started = this.now();
    this.log(`${step.name}: ${resume ? "resuming" : "running"}`);
    const result = await step.run(dir, resume);
    const seconds = (this.now() - started) / 1000;
    const marker: StepMarker<T> = { step: step.name, key, completedAt: new Date(this.now()).toISOString(), seconds, result };
    await writeFileAtomic(markerPath, `${JSON.stringify(marker, null, 2)}\n`);
    this.executed.push(step.name);
    this.seconds[step.name] = seconds;
    this.log(`${step.name}: done in ${seconds.toFixed(1)} s`);
    return result;
  }
}
