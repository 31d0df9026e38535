import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { DataError, ensureWritableDir, type OutputDirFs } from "../src/index.js";

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsxLoader = pathToFileURL(join(pkgDir, "node_modules", "tsx", "dist", "loader.mjs")).href;

function cli(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, ["--import", tsxLoader, join(pkgDir, "src", "cli", "main.ts"), ...args], { cwd, encoding: "utf8", env: { ...process.env, CI: "true" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A directory tree where `blocked` is a file, so any directory below it fails to be created, for root too. */
function fileInTheWay(): { dir: string; blocked: string } {
  const dir = mkdtempSync(join(tmpdir(), "infialign-outdir-"));
  const blocked = join(dir, "not-a-dir");
  writeFileSync(blocked, "x");
  return { dir, blocked };
}

/** Node's fs with `mkdir` failing as a read-only mount or a recursive mkdir on some systems does. */
function failingMkdir(code: string): OutputDirFs {
  return {
    mkdir: async (path) => {
      throw Object.assign(new Error(`${code}: mkdir '${path}'`), { code, syscall: "mkdir", path });
    },
    stat: async (path) => {
      if (path.endsWith("/missing") || path.includes("/missing/")) throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
      return { isDirectory: () => true };
    },
    access: async () => {},
  };
}

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

describe("ensureWritableDir", () => {
  it("names the file that stands where a directory is expected", async () => {
    const { blocked } = fileInTheWay();
    const run = ensureWritableDir(join(blocked, "runs", "x"), { component: "pipeline", purpose: "run directory", fix: "Pass --runs" });
    await expect(run).rejects.toThrow(DataError);
    await expect(run).rejects.toThrow(`[infialign/data] pipeline: cannot create the run directory "${join(blocked, "runs", "x")}": "${blocked}" is a file, not a directory. Pass --runs.`);
  });

  it("says which directory is not writable when mkdir reports ENOENT, EROFS or EACCES", async () => {
    const target = "/data/ro/missing/runs";
    await expect(ensureWritableDir(target, { fs: failingMkdir("ENOENT") })).rejects.toThrow(/"\/data\/ro" is not writable \(mkdir failed with ENOENT\)/);
    await expect(ensureWritableDir(target, { fs: failingMkdir("EROFS") })).rejects.toThrow(/"\/data\/ro" is not writable \(read-only file system, EROFS\)/);
    await expect(ensureWritableDir(target, { fs: failingMkdir("EACCES") })).rejects.toThrow(/"\/data\/ro" is not writable \(permission denied, EACCES\)/);
    const existing: OutputDirFs = { ...failingMkdir("EACCES"), mkdir: async () => undefined, access: async () => Promise.reject(Object.assign(new Error("EACCES"), { code: "EACCES" })) };
    await expect(ensureWritableDir("/data/ro", { fs: existing })).rejects.toThrow(/cannot create the output directory "\/data\/ro": "\/data\/ro" is not writable/);
  });

  it.skipIf(isRoot)(`names a directory made read-only with chmod 0555${isRoot ? " [skipped: runs as root, which permission bits do not stop; the blocked-path test covers root]" : ""}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "infialign-outdir-"));
    const ro = join(dir, "ro");
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    await expect(ensureWritableDir(join(ro, "runs"))).rejects.toThrow(`"${ro}" is not writable (permission denied, EACCES)`);
  });
});

describe("infialign-data with an output directory it cannot create", () => {
  it("exits 1 with the directory named and no stack trace (normalize --runs, export --out)", () => {
    // Regression: the CLI printed "unexpected error: Error: ENOTDIR … mkdir" with a stack trace.
    const { dir, blocked } = fileInTheWay();
    writeFileSync(join(dir, "pool.jsonl"), `${JSON.stringify({ question: "1+1?", answer: "#### 2" })}\n`);
    const norm = cli(["normalize", "pool.jsonl", "--runs", join(blocked, "runs")], dir);
    expect(norm.code).toBe(1);
    expect(norm.stderr).toContain(`"${blocked}" is a file, not a directory. Pass a writable runsDir (--runs <dir>)`);
    expect(norm.stderr).not.toMatch(/\n\s+at /);
    expect(cli(["normalize", "pool.jsonl", "--name", "ok", "--quiet"], dir).code).toBe(0);
    const exported = cli(["export", "runs/ok/normalize", "--out", join(blocked, "hf")], dir);
    expect(exported.code).toBe(1);
    expect(exported.stderr).toContain(`[infialign/data] export: cannot create the dataset directory "${join(blocked, "hf", "data")}": "${blocked}" is a file`);
    expect(exported.stderr).not.toMatch(/\n\s+at /);
  });
});
