import type { Logger } from "./types.js";

/** Logs to stderr so stdout stays machine-readable for CLI commands. */
export function createLogger(opts: { quiet?: boolean; verbose?: boolean; prefix?: string } = {}): Logger {
  const prefix = opts.prefix ? `[${opts.prefix}] ` : "";
  return {
    info: (m) => {
      if (!opts.quiet) process.stderr.write(`${prefix}${m}\n`);
    },
    warn: (m) => process.stderr.write(`${prefix}warning: ${m}\n`),
    debug: (m) => {
      if (opts.verbose) process.stderr.write(`${prefix}${m}\n`);
    },
  };
}

export const silentLogger: Logger = { info() {}, warn() {}, debug() {} };
