import cliProgress from "cli-progress";
import type { ProgressReporter } from "./types.js";

export const noProgress: ProgressReporter = { start() {}, update() {}, stop() {} };

/** Progress bars only for people watching: a TTY and not under CI. */
export function shouldShowProgress(stream: NodeJS.WriteStream = process.stderr): boolean {
  return !!stream.isTTY && !isCI();
}

export function isCI(): boolean {
  const ci = process.env.CI;
  return !!ci && ci !== "0" && ci.toLowerCase() !== "false";
}

/**
 * A cli-progress bar with records/s and ETA. Updates are throttled by cli-progress
 * itself (fps), so calling `update` per record is cheap.
 */
export function createProgress(opts: { enabled?: boolean; unit?: string } = {}): ProgressReporter {
  if (!(opts.enabled ?? shouldShowProgress())) return noProgress;
  const unit = opts.unit ?? "rec";
  let bar: cliProgress.SingleBar | undefined;
  let startedAt = 0;
  let label = "";
  return {
    start(total, name) {
      label = name;
      startedAt = Date.now();
      bar = new cliProgress.SingleBar(
        {
          format: total
            ? `{label} |{bar}| {percentage}% | {records} ${unit} | {rate} ${unit}/s | ETA {eta_formatted}`
            : `{label} | {records} ${unit} | {rate} ${unit}/s`,
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: false,
          etaBuffer: 50,
          fps: 5,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total ?? 0, 0, { label, rate: "0", records: 0 });
    },
    update(done, records = done) {
      const seconds = (Date.now() - startedAt) / 1000;
      bar?.update(done, { label, records, rate: seconds > 0 ? Math.round(records / seconds).toString() : "0" });
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
