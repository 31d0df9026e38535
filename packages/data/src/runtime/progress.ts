import cliProgress from "cli-progress";
import type { ProgressReporter } from "./types.js";

export const noProgress: ProgressReporter = { start() {}, update() {}, stop() {} };

/** Where bars are drawn: a writable stream, drawn on only when it is a TTY. */
export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

/** Progress bars only for people watching: a TTY and not under CI. */
export function shouldShowProgress(stream: ProgressStream = process.stderr): boolean {
  return !!stream.isTTY && !isCI();
}

export function isCI(): boolean {
  const ci = process.env.CI;
  return !!ci && ci !== "0" && ci.toLowerCase() !== "false";
}

/** Options of `createProgress` and `createProgressLine`. */
export interface ProgressOptions {
  /** @default a TTY and not CI=true (`shouldShowProgress`) */
  enabled?: boolean;
  /** Unit shown after counts and rates. @default "rec" */
  unit?: string;
  /** @default process.stderr */
  stream?: ProgressStream;
  /** Clock for rates and ETAs of stage reports, in ms. @default Date.now */
  now?: () => number;
}

/**
 * A cli-progress bar with records/s and ETA. Updates are throttled by cli-progress
 * itself (fps), so calling `update` per record is cheap.
 */
export function createProgress(opts: ProgressOptions = {}): ProgressReporter {
  if (!(opts.enabled ?? shouldShowProgress(opts.stream))) return noProgress;
  return createProgressLine(opts).input;
}

/** The progress line of a pipeline: the input's bar, plus one reporter per stage for the stage's own reports. */
export interface ProgressLine {
  /** The pipeline's input (records read from the source or the previous stage's shards). */
  input: ProgressReporter;
  /** The reporter a stage gets as `ctx.progress`; its figures are appended to the line as `<stage>: <label> …`. */
  stage(name: string): ProgressReporter;
}

interface Tally {
  label: string;
  total: number | undefined;
  done: number;
  records: number;
  startedAt: number;
  /** Started since the line was last cleared: drawn. */
  shown: boolean;
  active: boolean;
}

const idle = (): Tally => ({ label: "", total: undefined, done: 0, records: 0, startedAt: 0, shown: false, active: false });

/**
 * One terminal line for a pipeline run: the input bar (records/s, ETA) followed by what each stage reports of its own
 * work (`teacher: replies 120/500 · 4 rec/s · ETA 1m 40s`). One line rather than one per stage, so that log lines
 * printed between redraws (the pipeline clears the line first) never leave stale bars behind. Disabled (no TTY, or
 * CI=true) every reporter is `noProgress`.
 */
export function createProgressLine(opts: ProgressOptions = {}): ProgressLine {
  if (!(opts.enabled ?? shouldShowProgress(opts.stream))) return { input: noProgress, stage: () => noProgress };
  const unit = opts.unit ?? "rec";
  const now = opts.now ?? Date.now;
  const input = idle();
  const stages = new Map<string, Tally>();
  let bar: cliProgress.SingleBar | undefined;

  const format: cliProgress.GenericFormatter = (options, params) => {
    const parts: string[] = [];
    const seconds = (t: Tally) => (now() - t.startedAt) / 1000;
    if (input.shown) {
      const s = seconds(input);
      const rate = s > 0 ? Math.round(input.records / s) : 0;
      parts.push(
        input.total
          ? `${input.label} |${cliProgress.Format.BarFormat(params.progress, options)}| ${Math.floor(params.progress * 100)}% | ${input.records} ${unit} | ${rate} ${unit}/s | ETA ${cliProgress.Format.TimeFormat(params.eta, options, 1)}`
          : `${input.label} | ${input.records} ${unit} | ${rate} ${unit}/s`,
      );
    }
    for (const [name, t] of stages) {
      if (!t.shown) continue;
      const s = seconds(t);
      const rate = s > 0 ? Math.round(t.records / s) : 0;
      // ETA from the pace of `done` (it may count something other than records).
      const eta = t.total && t.done > 0 && s > 0 ? ` · ETA ${formatSeconds(((t.total - Math.min(t.done, t.total)) * s) / t.done)}` : "";
      parts.push(`${name}: ${t.label} ${t.done}${t.total ? `/${t.total}` : ""} · ${rate} ${unit}/s${eta}`);
    }
    return parts.join("  ·  ");
  };
  const redraw = () => {
    if (bar) {
      bar.update(input.done);
      return;
    }
    bar = new cliProgress.SingleBar(
      { format, stream: opts.stream ?? process.stderr, hideCursor: true, clearOnComplete: false, etaBuffer: 50, fps: 5 },
      cliProgress.Presets.shades_classic,
    );
    bar.start(input.total ?? 0, input.done);
  };
  const finishIfIdle = () => {
    if (input.active || [...stages.values()].some((t) => t.active)) return;
    bar?.stop();
    bar = undefined;
    Object.assign(input, idle());
    stages.clear();
  };
  const reporter = (tally: () => Tally): ProgressReporter => ({
    start(total, label) {
      const t = tally();
      Object.assign(t, { label, total, done: 0, records: 0, startedAt: now(), shown: true, active: true });
      if (t === input) bar?.setTotal(total ?? 0);
      redraw();
    },
    update(done, records = done) {
      const t = tally();
      if (!t.active) return;
      t.done = done;
      t.records = records;
      redraw();
    },
    stop() {
      const t = tally();
      if (!t.active) return;
      t.active = false;
      redraw();
      finishIfIdle();
    },
  });
  return {
    input: reporter(() => input),
    stage: (name) =>
      reporter(() => {
        let t = stages.get(name);
        if (!t) stages.set(name, (t = idle()));
        return t;
      }),
  };
}

/** 100 → "1m 40s", 5 → "5s". */
function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}
