// Renders an HTML report in headless Chromium and returns the DOM after load plus the page's console messages, so report
// tests check what a browser shows rather than the string we wrote.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { TestContext } from "vitest";
import { requireOrSkip } from "./prerequisites.js";

const exec = promisify(execFile);

export interface RenderedPage {
  /** `document.documentElement.outerHTML` after load (`--dump-dom`). */
  dom: string;
  /** Console messages and uncaught errors the page logged (Chromium's `CONSOLE(n)` / `Uncaught` log lines). */
  consoleErrors: string[];
}

let available: Promise<boolean> | undefined;

/**
 * Loads `html` from a temporary file in headless Chromium (`$CHROMIUM`, default `chromium`). When Chromium is absent
 * the test is reported as skipped with the reason (`ctx.skip`), except under `CI=true`, where an absent browser is an
 * error (CI must test the reports).
 *
 * @param what e.g. "the SFT report", named in the skip reason
 */
export async function renderInChromium(html: string, what: string, ctx: TestContext): Promise<RenderedPage> {
  const chromium = process.env.CHROMIUM ?? "chromium";
  available ??= exec(chromium, ["--version"]).then(
    () => true,
    () => false,
  );
  if (!(await available)) requireOrSkip(ctx, `${chromium} is not on PATH (apt-get install -y chromium), so ${what} was not rendered in a browser`);
  const dir = mkdtempSync(join(tmpdir(), "html-check-"));
  try {
    const file = join(dir, "page.html");
    writeFileSync(file, html);
    const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
    const { stdout, stderr } = await exec(chromium, [...flags, `--user-data-dir=${join(dir, "profile")}`, "--enable-logging=stderr", "--v=0", "--dump-dom", `file://${file}`], {
      timeout: 30_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    // Chromium logs page console messages as "INFO:CONSOLE:<line>] ..." / "CONSOLE(<line>)" under --enable-logging.
    const consoleErrors = stderr.split("\n").filter((line) => /CONSOLE[:(]\d+|Uncaught/.test(line));
    return { dom: stdout, consoleErrors };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
