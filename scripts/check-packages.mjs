#!/usr/bin/env node
// Release check: what npm users get. Packs every public package (pnpm pack rewrites workspace:*), checks each tarball's
// metadata and files, installs all tarballs together into a fresh npm project and there
//   - imports every entry point as ESM and as CJS and compares their exports,
//   - runs scripts/package-checks/exercise.cjs (the code paths behind ESM-only dependencies, files next to the
//     package) through require() and import(), with the oldest Node version the packages claim in `engines` (a
//     prebuilt binary from the npm registry, cached) and with this Node,
//   - type-checks a consumer under moduleResolution node16 (ESM and CJS), bundler and node10, default target,
//     skipLibCheck off,
// and runs `attw` (@arethetypeswrong/cli) on every tarball.
//
//   node scripts/check-packages.mjs [--no-build] [--keep]
//
// --no-build skips `pnpm build` (dist must be current); --keep leaves the temporary project for inspection.
// Needs the npm registry (dependencies of the packages, the Node binary, typescript and @types/node for the consumer).
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = new Set(process.argv.slice(2));
const started = Date.now();
const failures = [];
const fail = (message) => {
  failures.push(message);
  console.log(`  FAIL ${message}`);
};
const step = (title) => console.log(`\n::: ${title} (${Math.round((Date.now() - started) / 1000)} s)`);

/** Runs a command to its end; throws with its output when it fails, unless `check: false`. */
function run(cmd, argv, { cwd = repo, env = {}, check = true, quiet = false } = {}) {
  const res = spawnSync(cmd, argv, { cwd, env: { ...process.env, ...env }, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  if (res.error) throw res.error;
  if (check && res.status !== 0) {
    throw new Error(`${cmd} ${argv.join(" ")} (in ${cwd}) exited with ${res.status}\n${res.stdout}\n${res.stderr}`);
  }
  if (!quiet && res.status !== 0) process.stdout.write(res.stdout + res.stderr);
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

const pnpm = (argv, opts) => run("npx", ["-y", "pnpm@10", ...argv], opts);

// ---------------------------------------------------------------------------------------------------------------------
const packages = readdirSync(join(repo, "packages"))
  .map((name) => join(repo, "packages", name))
  .filter((dir) => existsSync(join(dir, "package.json")))
  .map((dir) => ({ dir, json: JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) }))
  .filter((p) => !p.json.private);

if (!args.has("--no-build")) {
  step("build");
  pnpm(["build", "--output-logs=errors-only"]);
}

const work = mkdtempSync(join(tmpdir(), "infialign-check-packages-"));
const tarballs = join(work, "tarballs");
const project = join(work, "project");
mkdirSync(tarballs);
mkdirSync(project);
console.log(`work folder: ${work}`);

try {
  // -------------------------------------------------------------------------------------------------------------------
  step(`pack ${packages.length} public packages`);
  pnpm(["-r", ...packages.flatMap((p) => ["--filter", p.json.name]), "pack", "--pack-destination", tarballs]);
  for (const p of packages) {
    p.tarball = join(tarballs, `${p.json.name.replace(/^@/, "").replace("/", "-")}-${p.json.version}.tgz`);
    if (!existsSync(p.tarball)) throw new Error(`pnpm pack made no ${p.tarball}`);
    checkTarball(p);
  }

  // -------------------------------------------------------------------------------------------------------------------
  const oldest = oldestClaimedNode(packages);
  step(`Node ${oldest} (the oldest version claimed in engines)`);
  const oldNode = nodeBinary(oldest);
  console.log(`  ${oldNode}: ${run(oldNode, ["-v"]).stdout.trim()}`);

  // -------------------------------------------------------------------------------------------------------------------
  step("npm install of all tarballs into a fresh project");
  const ts = JSON.parse(readFileSync(join(repo, "node_modules/typescript/package.json"), "utf8")).version;
  writeFileSync(join(project, "package.json"), `${JSON.stringify({ name: "infialign-package-check", version: "0.0.0", private: true }, null, 2)}\n`);
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...packages.map((p) => p.tarball), `typescript@${ts}`, "@types/node@20"], {
    cwd: project,
    env: { ONNXRUNTIME_NODE_INSTALL: "skip", ONNXRUNTIME_NODE_INSTALL_CUDA: "skip", npm_config_update_notifier: "false" },
  });

  // -------------------------------------------------------------------------------------------------------------------
  step("import() and require() of every entry point");
  const entries = packages.flatMap((p) => Object.keys(p.json.exports).filter((k) => k !== "./package.json").map((k) => join(p.json.name, k)));
  writeFileSync(join(project, "entries.json"), JSON.stringify(entries));
  writeFileSync(
    join(project, "load-all.cjs"),
    `"use strict";
const entries = require("./entries.json");
(async () => {
  let bad = 0;
  for (const entry of entries) {
    try {
      const cjs = Object.keys(require(entry)).filter((k) => k !== "__esModule" && k !== "default").sort();
      const esm = Object.keys(await import(entry)).filter((k) => k !== "default" && k !== "module.exports").sort();
      const onlyCjs = cjs.filter((k) => !esm.includes(k));
      const onlyEsm = esm.filter((k) => !cjs.includes(k));
      if (cjs.length === 0 || onlyCjs.length + onlyEsm.length > 0) throw new Error("exports differ: only CJS " + onlyCjs + "; only ESM " + onlyEsm);
      console.log("  ok   " + entry + ": " + cjs.length + " exports, same from require() and import()");
    } catch (e) {
      bad++;
      console.log("  FAIL " + entry + ": " + (e && e.stack || e));
    }
  }
  process.exitCode = bad ? 1 : 0;
})();
`,
  );
  for (const node of [oldNode, process.execPath]) {
    const res = run(node, ["load-all.cjs"], { cwd: project, check: false, quiet: true });
    console.log(`  Node ${run(node, ["-v"]).stdout.trim()}:`);
    process.stdout.write(res.stdout + res.stderr);
    if (res.status !== 0) fail(`loading the entry points with ${node}`);
  }

  // -------------------------------------------------------------------------------------------------------------------
  step("exercise.cjs: the packages' code paths behind ESM-only dependencies");
  copyFileSync(join(repo, "scripts/package-checks/exercise.cjs"), join(project, "exercise.cjs"));
  for (const [node, modes] of [
    [oldNode, ["cjs", "esm"]],
    [process.execPath, ["cjs"]],
  ]) {
    for (const mode of modes) {
      const res = run(node, ["exercise.cjs", mode], { cwd: project, check: false, quiet: true });
      console.log(`  Node ${run(node, ["-v"]).stdout.trim()}, ${mode}:`);
      process.stdout.write(res.stdout + res.stderr);
      if (res.status !== 0) fail(`exercise.cjs ${mode} with Node ${node}`);
    }
  }

  // -------------------------------------------------------------------------------------------------------------------
  step("types: a consumer project under node16 (ESM, CJS), bundler and node10, default target, skipLibCheck off");
  await checkConsumerTypes(entries);

  // -------------------------------------------------------------------------------------------------------------------
  step("attw (are the types wrong) on every tarball");
  const attw = join(repo, "node_modules/.bin/attw");
  for (const p of packages) {
    const res = run(attw, [p.tarball, "--format", "table-flipped"], { check: false, quiet: true, env: { NO_COLOR: "1", FORCE_COLOR: "0" } });
    if (res.status === 0) console.log(`  ok   ${p.json.name}: ${res.stdout.includes("No problems found") ? "no problems found" : "passed"}`);
    else {
      process.stdout.write(res.stdout + res.stderr);
      fail(`attw ${p.json.name}`);
    }
  }
} finally {
  if (args.has("--keep")) console.log(`\nkept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

console.log(`\n${failures.length === 0 ? "all package checks passed" : `${failures.length} package check(s) failed:\n  ${failures.join("\n  ")}`} (${Math.round((Date.now() - started) / 1000)} s)`);
process.exitCode = failures.length === 0 ? 0 : 1;

// =====================================================================================================================

/** Metadata and files of one tarball: everything package.json points at is inside, and what a user needs. */
function checkTarball(p) {
  const files = new Set(
    execFileSync("tar", ["tzf", p.tarball], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, "")),
  );
  const json = JSON.parse(execFileSync("tar", ["xzfO", p.tarball, "package/package.json"], { encoding: "utf8" }));
  const name = json.name;
  const problems = [];
  for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
    for (const [dep, spec] of Object.entries(json[field] ?? {})) if (spec.startsWith("workspace:")) problems.push(`${field}.${dep} is still "${spec}"`);
  }
  for (const field of ["repository", "homepage", "bugs", "license", "description"]) if (!json[field]) problems.push(`no "${field}"`);
  if (!/^>=\d+\.\d+\.\d+$/.test(json.engines?.node ?? "")) problems.push(`engines.node "${json.engines?.node}" is not ">=X.Y.Z"`);
  if (json.repository?.directory !== relative(repo, p.dir)) problems.push(`repository.directory "${json.repository?.directory}" is not "${relative(repo, p.dir)}"`);
  for (const f of ["README.md", "CHANGELOG.md", "LICENSE", "package.json"]) if (!files.has(f)) problems.push(`${f} is not in the tarball`);
  // A version is a release only when its changesets were applied: the CHANGELOG says what that version changed.
  if (files.has("CHANGELOG.md")) {
    const changelog = execFileSync("tar", ["xzfO", p.tarball, "package/CHANGELOG.md"], { encoding: "utf8" });
    if (json.version === "0.0.0" || !changelog.includes(`\n## ${json.version}\n`)) problems.push(`version ${json.version} has no "## ${json.version}" section in CHANGELOG.md (apply the changesets: pnpm version-packages)`);
  }
  // Every file package.json points at.
  const targets = [];
  const collect = (v) => {
    if (typeof v === "string") targets.push(v);
    else if (Array.isArray(v)) v.forEach(collect);
    else if (v && typeof v === "object") Object.values(v).forEach(collect);
  };
  collect([json.main, json.module, json.types, json.exports, json.bin, json.typesVersions]);
  for (const t of targets) {
    const path = t.replace(/^\.\//, "");
    if (path.includes("*")) continue;
    if (!files.has(path)) problems.push(`"${t}" (from package.json) is not in the tarball`);
  }
  // Source maps point at src/, which is not shipped; that is fine. Tests and benches must not ship.
  for (const f of files) if (/^(src|test|bench)\//.test(f)) problems.push(`${f} is shipped`);
  if (name === "@infialign/data" && ![...files].some((f) => f.startsWith("data/benchmarks/") && f.endsWith(".jsonl"))) problems.push("the shipped benchmarks (data/benchmarks/*.jsonl) are missing");
  if (problems.length > 0) fail(`${name} tarball: ${problems.join("; ")}`);
  else console.log(`  ok   ${basename(p.tarball)}: ${files.size} files, metadata complete`);
}

/** The lowest `>=X.Y.Z` lower bound in the packages' engines.node. */
function oldestClaimedNode(pkgs) {
  const versions = pkgs.map((p) => {
    const m = /^>=\s*(\d+)\.(\d+)\.(\d+)$/.exec(p.json.engines?.node ?? "");
    if (!m) throw new Error(`${p.json.name}: engines.node "${p.json.engines?.node}" is not of the form ">=X.Y.Z"`);
    return m.slice(1).map(Number);
  });
  versions.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  return versions[0].join(".");
}

/** bin/node of a prebuilt Node from the npm registry (node-<os>-<arch>), cached in the OS temp folder by version. */
function nodeBinary(version) {
  const os = process.platform === "win32" ? "win" : process.platform;
  const cache = join(process.env.INFIALIGN_NODE_CACHE ?? join(tmpdir(), "infialign-node-cache"), `${os}-${process.arch}-${version}`);
  const bin = join(cache, os === "win" ? "bin/node.exe" : "bin/node");
  if (existsSync(bin)) return bin;
  mkdirSync(cache, { recursive: true });
  const spec = `node-${os}-${process.arch}@${version}`;
  console.log(`  downloading ${spec} into ${cache}`);
  const out = run("npm", ["pack", spec, "--pack-destination", cache, "--silent"], { cwd: cache }).stdout.trim().split("\n").at(-1);
  const tgz = join(cache, out);
  run("tar", ["xzf", tgz, "-C", cache, "--strip-components=1", `package/${os === "win" ? "bin/node.exe" : "bin/node"}`]);
  rmSync(tgz);
  return bin;
}

/** A consumer that imports every entry point and uses a few values, compiled with tsc under the usual settings. */
async function checkConsumerTypes(entries) {
  const dir = join(project, "types");
  mkdirSync(dir);
  const imports = entries.map((e, i) => `import * as m${i} from "${e}";`).join("\n");
  const uses = `export const modules = [${entries.map((_, i) => `m${i}`).join(", ")}];\n`;
  // Values whose classes carry private members, and a few functions, so that their declarations are used, not only read.
  const body = `${imports}
import { OpenAIChatClient } from "@infialign/data";
import { NgramIndex, MinHasher } from "@infialign/decontam";
import { ByteTokenizer, TokenSampler } from "@infialign/model";
import { selectBackend } from "@infialign/kernels/tfjs";
${uses}
export const client: OpenAIChatClient = new OpenAIChatClient({ baseURL: "http://localhost/v1", model: "m" });
export const tokens: number[] = new ByteTokenizer().encode("x");
export type Classes = [NgramIndex, MinHasher, TokenSampler];
export const backend: Promise<{ name: string }> = selectBackend({ prefer: "wasm" });
`;
  writeFileSync(join(dir, "consumer.ts"), body);
  writeFileSync(join(dir, "consumer.mts"), body);
  writeFileSync(join(dir, "consumer.cts"), body);
  const base = { strict: true, noEmit: true, skipLibCheck: false, types: ["node"] };
  const variants = [
    { name: "node16, ESM (.mts)", files: ["consumer.mts"], options: { module: "node16", moduleResolution: "node16" } },
    { name: "node16, CJS (.cts)", files: ["consumer.cts"], options: { module: "node16", moduleResolution: "node16" } },
    { name: "bundler", files: ["consumer.ts"], options: { module: "esnext", moduleResolution: "bundler" } },
    { name: "node10 (CommonJS)", files: ["consumer.ts"], options: { module: "commonjs", moduleResolution: "node10", esModuleInterop: true } },
  ];
  const tsc = join(project, "node_modules/typescript/bin/tsc");
  const results = await Promise.all(
    variants.map((v, i) => {
      const config = join(dir, `tsconfig.${i}.json`);
      writeFileSync(config, JSON.stringify({ compilerOptions: { ...base, ...v.options }, files: v.files }, null, 2));
      return new Promise((done) => execFile(process.execPath, [tsc, "-p", config], { cwd: dir, maxBuffer: 64 * 1024 * 1024 }, (_error, stdout, stderr) => done(stdout + stderr)));
    }),
  );
  for (const [i, v] of variants.entries()) {
    const errors = results[i].split("\n").filter((l) => /error TS\d+/.test(l));
    // Errors inside third-party declarations are theirs, reported but not failed; ours and the consumer's fail.
    const ours = errors.filter((l) => l.startsWith("consumer.") || l.includes("node_modules/@infialign/"));
    const theirs = errors.filter((l) => !ours.includes(l));
    if (ours.length > 0) fail(`tsc ${v.name}:\n    ${ours.join("\n    ")}`);
    else console.log(`  ok   tsc ${v.name}${theirs.length > 0 ? ` (${theirs.length} errors in third-party declarations, not ours)` : ""}`);
    for (const l of theirs.slice(0, 5)) console.log(`         ${l}`);
  }
}
