// Renders an HTML report in headless Chromium and returns the DOM after load plus the page's console messages, so report
// tests check what a browser shows rather than the string we wrote.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

export interface RenderedPage {
  /** `document.documentElement.outerHTML` after load (`--dump-dom`). */
  dom: string;
  /** Console messages and uncaught errors the page logged (Chromium's `CONSOLE(n)` / `Uncaught` log lines). */
  consoleErrors: string[];
}

let available: Promise<boolean> | undefined;

/**
 * Loads `html` from a temporary file in headless Chromium (`$CHROMIUM`, default `chromium`). Returns `undefined` when
 * Chromium is absent — after a visible warning naming what was not checked — except under `CI=true`, where an absent
 * browser is an error (CI must test the reports).
 *
 * @param what e.g. "the SFT report", used in the skip warning
 */
export async function renderInChromium(html: string, what: string): Promise<RenderedPage | undefined> {
  const chromium = process.env.CHROMIUM ?? "chromium";
  available ??= exec(chromium, ["--version"]).then(
    () => true,
    () => false,
  );
  if (!(await available)) {
    if (process.env.CI === "true") throw new Error(`chromium not found (${chromium}) but CI=true: install it to test ${what}`);
    console.warn(`SKIPPED: chromium is not on PATH; ${what} was not rendered in a browser`);
    return undefined;
  }
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
