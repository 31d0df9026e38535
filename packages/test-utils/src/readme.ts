// Keeps package READMEs honest: their fenced blocks are extracted and run, their relative links must point at files
// that ship in the package, and their sections follow STYLE.md. A block that cannot run here (GPU, network, a real
// inference server) is marked in the README source with `<!-- readme-test: skip — reason -->` right before it.
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, normalize, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** Languages whose blocks are executed or parsed; blocks in any other language (or none) are prose. */
export const README_BLOCK_LANGS = ["ts", "js", "sh", "bash", "json", "yaml"] as const;
export type ReadmeBlockLang = (typeof README_BLOCK_LANGS)[number];

/** The sections STYLE.md asks of every package README, in order. */
export const README_SECTIONS = ["Overview", "Quick start", "Data format", "How it works", "Logged metrics", "Options", "API"] as const;

export interface ReadmeBlock {
  lang: ReadmeBlockLang;
  code: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** Reason from `<!-- readme-test: skip — reason -->`: the block is reported as skipped, never run. */
  skip?: string;
  /** From `<!-- readme-test: file NAME -->`: the block is also written to NAME in the work directory for later blocks. */
  file?: string;
}

const DIRECTIVE = /^<!--\s*readme-test:\s*(skip|file)\b\s*[—–:-]?\s*(.*?)\s*-->$/;

/** Fenced blocks of the executable languages, with the directive written on the line before each (if any). */
export function extractReadmeBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split("\n");
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i] ?? "");
    if (!open) continue;
    const [, indent = "", fence = "```", info = ""] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !(lines[j] ?? "").trim().startsWith(fence); j++) body.push((lines[j] ?? "").slice(indent.length));
    const lang = (info === "typescript" ? "ts" : info === "javascript" ? "js" : info === "yml" ? "yaml" : info) as ReadmeBlockLang;
    if (README_BLOCK_LANGS.includes(lang)) {
      const block: ReadmeBlock = { lang, code: `${body.join("\n")}\n`, line: i + 1 };
      for (let k = i - 1; k >= 0; k--) {
        const prev = (lines[k] ?? "").trim();
        if (prev === "") continue;
        const d = DIRECTIVE.exec(prev);
        if (!d) break;
        if (d[1] === "skip") block.skip = d[2] || "no reason given";
        else block.file = d[2];
      }
      if (block.skip === "no reason given") throw new Error(`README line ${block.line}: a readme-test skip needs a reason`);
      blocks.push(block);
    }
    i = j;
  }
  return blocks;
}

export interface ReadmeLink {
  target: string;
  line: number;
}

/** Links and images (`[t](x)`, `![a](x)`, `<a href="x">`, reference definitions) outside code. */
export function readmeLinks(markdown: string): ReadmeLink[] {
  const links: ReadmeLink[] = [];
  let fence: string | undefined;
  markdown.split("\n").forEach((raw, i) => {
    const f = /^\s*(`{3,}|~{3,})/.exec(raw);
    if (f) {
      if (!fence) fence = f[1];
      else if (raw.trim().startsWith(fence)) fence = undefined;
      return;
    }
    if (fence) return;
    const text = raw.replace(/`[^`]*`/g, "");
    for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ target: m[1] ?? "", line: i + 1 });
    for (const m of text.matchAll(/\b(?:href|src)="([^"]+)"/g)) links.push({ target: m[1] ?? "", line: i + 1 });
    const def = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(text);
    if (def) links.push({ target: def[1] ?? "", line: i + 1 });
  });
  return links;
}

/** The repository's GitHub address; published READMEs link here for files that are not in the tarball. */
export const REPOSITORY_BLOB_URL = "https://github.com/infialign/infialign-ts/blob/main/";

/**
 * Problems with a package README's relative links: each must name a file (or folder) that exists and that the
 * package's `files` field publishes, so it resolves on the npm page too.
 */
export function readmeLinkProblems(pkgDir: string, readme = "README.md"): string[] {
  const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as { files?: string[] };
  const published = ["package.json", "README.md", "LICENSE", ...(pkg.files ?? [])].map((f) => normalize(f).replace(/\/$/, ""));
  const problems: string[] = [];
  for (const { target, line } of readmeLinks(readFileSync(join(pkgDir, readme), "utf8"))) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("#")) continue;
    const path = decodeURIComponent(target.replace(/[#?].*$/, ""));
    const abs = resolve(pkgDir, path);
    const rel = relative(pkgDir, abs);
    if (rel.startsWith("..") || isAbsolute(rel)) {
      problems.push(`line ${line}: ${target} leaves the package; link ${REPOSITORY_BLOB_URL}<path> instead`);
    } else if (!existsSync(abs)) {
      problems.push(`line ${line}: ${target} does not exist`);
    } else if (!published.some((f) => rel === f || rel.startsWith(`${f}${sep}`))) {
      problems.push(`line ${line}: ${target} is not in package.json "files" (${published.join(", ")}), so it is missing on npm`);
    }
  }
  return problems;
}

/**
 * Problems with the README's top-level sections: exactly STYLE.md's, in order (anything else is a `###` inside one of
 * them), so every package page reads the same way.
 */
export function readmeSectionProblems(markdown: string, required: readonly string[] = README_SECTIONS): string[] {
  const outsideCode = markdown.replace(/^(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, "");
  const headings = [...outsideCode.matchAll(/^## +(.+?)\s*$/gm)].map((m) => m[1] ?? "");
  const problems: string[] = headings.filter((h) => !required.includes(h)).map((h) => `"## ${h}" is not one of ${required.join(", ")}; make it a ### inside one`);
  let last = -1;
  for (const name of required) {
    const at = headings.indexOf(name);
    if (at < 0) problems.push(`no "## ${name}" section`);
    else if (at < last) problems.push(`"## ${name}" is out of order (expected: ${required.join(", ")})`);
    else last = at;
  }
  return problems;
}

/** Internal references that mean nothing on npm: issue numbers, the design reference, the build's status notes. */
export function readmeJargon(markdown: string): string[] {
  const found: string[] = [];
  const patterns = [/\bissues? #?\d+\b/gi, /\bREFERENCE(?:\.md)?\s*§/g, /\*\*Status:\*\*/g, /§\s*\d+(?:\.\d+)*/g];
  markdown.split("\n").forEach((l, i) => {
    for (const p of patterns) for (const m of l.matchAll(p)) found.push(`line ${i + 1}: "${m[0]}"`);
  });
  return found;
}

export interface PackageJsonBins {
  name: string;
  bin?: string | Record<string, string>;
}

function binsOf(pkgDir: string): Array<[string, string]> {
  const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as PackageJsonBins;
  if (!pkg.bin) return [];
  const bins = typeof pkg.bin === "string" ? { [pkg.name.split("/").pop() ?? pkg.name]: pkg.bin } : pkg.bin;
  return Object.entries(bins).map(([name, file]) => [name, resolve(pkgDir, file)]);
}

/**
 * A folder of shims for the bins of the package and of every workspace package it depends on (pnpm links a
 * workspace bin only if it was built before install, so they are not all in node_modules/.bin).
 */
export function packageBinDir(pkgDir: string, outDir: string): string {
  mkdirSync(outDir, { recursive: true });
  const dirs = [pkgDir];
  const scoped = join(pkgDir, "node_modules", "@infialign");
  if (existsSync(scoped)) for (const d of readdirSync(scoped)) dirs.push(join(scoped, d));
  for (const dir of dirs) {
    if (!existsSync(join(dir, "package.json"))) continue;
    for (const [name, file] of binsOf(dir)) {
      const shim = join(outDir, name);
      writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${file}" "$@"\n`);
      chmodSync(shim, 0o755);
    }
  }
  return outDir;
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Default limit for one README block, after which its whole process group is killed. */
export const README_BLOCK_TIMEOUT_MS = 170_000;

// The block runs in its own process group; when it exits (or times out) the group is killed, so a server a block
// started in the background (`infialign-serve … &`) never outlives it or holds its output pipes open.
function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; input?: string; timeoutMs?: number }): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["pipe", "pipe", "pipe"], detached: true });
    let stdout = "";
    let stderr = "";
    let exitCode: number | undefined;
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        // the group is already gone
      }
    };
    const timer = setTimeout(() => {
      stderr += `\n[readme-test] killed after ${options.timeoutMs ?? README_BLOCK_TIMEOUT_MS} ms`;
      killGroup();
    }, options.timeoutMs ?? README_BLOCK_TIMEOUT_MS);
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      exitCode = code ?? (signal ? 128 : 1);
      killGroup();
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code: exitCode ?? code ?? (signal ? 128 : 1), stdout, stderr });
    });
    // A block that exits without reading its stdin closes the pipe first; the exit code already says how it ended.
    child.stdin.on("error", () => {});
    child.stdin.end(options.input ?? "");
  });
}

/** PATH and environment for README commands: the package's bins first, progress bars off. */
export function readmeEnv(pkgDir: string, workDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const bins = packageBinDir(pkgDir, join(workDir, ".bin"));
  const path = [bins, join(pkgDir, "node_modules", ".bin"), join(repoRoot, "node_modules", ".bin"), process.env.PATH].join(":");
  return { ...process.env, PATH: path, CI: "true", NO_COLOR: "1", ...extra };
}

// `npx tool` runs the tool from PATH (never the registry); `npm install a b` only checks that each package is the
// one documented or is installed beside it, since the workspace is already installed and there is no network.
const SH_PRELUDE = `
npx() { while [ "\${1#-}" != "$1" ]; do shift; done; "$@"; }
npm() {
  case "$1" in
    install|i|add)
      shift
      for p in "$@"; do
        case "$p" in -*) continue ;; esac
        name="\${p%@*}"; [ -z "$name" ] && name="$p"
        [ "$name" = "$README_PACKAGE" ] && continue
        if [ ! -d "$README_PACKAGE_DIR/node_modules/$name" ] && [ ! -d "$README_ROOT/node_modules/$name" ]; then
          echo "npm install: $name is neither this package nor installed beside it" >&2; return 1
        fi
      done ;;
    *) command npm "$@" ;;
  esac
}
trap 'for j in $(jobs -p); do kill "$j" 2>/dev/null; done' EXIT
`;

/** Runs a sh/bash block with bash (`-euo pipefail`) in `workDir`. */
export function runShellBlock(pkgDir: string, workDir: string, code: string, env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as PackageJsonBins;
  return run("bash", ["-euo", "pipefail", "-c", `${SH_PRELUDE}\n${code}`], {
    cwd: workDir,
    env: readmeEnv(pkgDir, workDir, { README_PACKAGE: pkg.name, README_PACKAGE_DIR: pkgDir, README_ROOT: repoRoot, ...env }),
  });
}

/**
 * Writes ts/js blocks as modules inside the package (`.cache/readme-test/`, git-ignored), so `@infialign/<pkg>`
 * resolves to the package itself through its `exports` and every other import through its node_modules.
 */
export function writeCodeBlocks(pkgDir: string, blocks: readonly ReadmeBlock[]): string[] {
  const dir = join(pkgDir, ".cache", "readme-test");
  mkdirSync(dir, { recursive: true });
  return blocks.map((b) => {
    const file = join(dir, `readme-line-${b.line}.${b.lang === "js" ? "mjs" : "mts"}`);
    // `export {}` makes a block without imports a module too, so blocks never share top-level names.
    writeFileSync(file, `${b.code}\nexport {};\n`);
    return file;
  });
}

/** Type-checks files with the package's tsconfig options; returns the diagnostics, formatted. */
export async function typecheckFiles(pkgDir: string, files: readonly string[]): Promise<string[]> {
  const ts = (await import("typescript")).default;
  const configPath = join(pkgDir, "tsconfig.json");
  const parsed = ts.parseJsonConfigFileContent(ts.readConfigFile(configPath, ts.sys.readFile).config, ts.sys, pkgDir);
  const program = ts.createProgram(
    files.filter((f) => f.endsWith(".mts")),
    { ...parsed.options, noEmit: true, allowJs: false, sourceMap: false, declaration: false },
  );
  const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => !d.file || files.includes(resolve(d.file.fileName)));
  return diagnostics.map((d) => {
    const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
    const name = d.file ? relative(pkgDir, d.file.fileName) : "";
    return `${name}${where ? `:${where.line + 1}:${where.character + 1}` : ""} ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
  });
}

/** Runs one written ts/js block with tsx (the package's devDependency) in `workDir`. */
export function runCodeFile(pkgDir: string, workDir: string, file: string, env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  const tsx = [join(pkgDir, "node_modules", ".bin", "tsx"), join(repoRoot, "node_modules", ".bin", "tsx")].find(existsSync);
  if (!tsx) throw new Error(`[infialign/test-utils] readme: tsx is not installed in ${pkgDir}; add it as a devDependency to run README code`);
  return run(tsx, [file], { cwd: workDir, env: readmeEnv(pkgDir, workDir, env) });
}

/** Files under `dir`, relative, for failure messages that show what a block left behind. */
export function listFiles(dir: string, prefix = ""): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    if (name === ".bin") return [];
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path, `${prefix}${name}/`) : [`${prefix}${name}`];
  });
}
