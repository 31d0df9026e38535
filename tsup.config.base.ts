import { existsSync, readFileSync, realpathSync } from "node:fs";
import { dirname, extname, join } from "node:path";
import type { Options } from "tsup";

/** Settings shared by every build of a published package: Node 20 output, source maps. */
const common: Options = {
  sourcemap: true,
  target: "node20",
  // import.meta.url in the CJS build (createRequire for optional peers).
  shims: true,
};

/**
 * What every published package builds from its entry points (default `src/index.ts`): ESM + `.d.ts`, and CJS +
 * `.d.cts`. The CJS build bundles the dependencies that `require()` cannot load (ESM-only packages, see
 * {@link esmOnlyDependencies}): Node before 20.19 throws ERR_REQUIRE_ESM on them, and later ones hand a namespace object
 * to esbuild's interop, so that `pLimit(…)` is "not a function". The ESM build keeps them external, so a package with
 * such dependencies gets two configs; only the first one cleans `dist` (tsup runs the configs of an array at once).
 * Their types must not appear in the declarations: a `.d.cts` may not import an ES module (TS1479), and tsup keeps
 * dependencies' types external; scripts/check-packages.mjs type-checks a CommonJS consumer.
 */
export function libraryConfigs(entry: Options["entry"] = { index: "src/index.ts" }, packageDir = process.cwd()): Options[] {
  const bundled = esmOnlyDependencies(packageDir);
  if (bundled.length === 0) return [{ ...common, entry, format: ["esm", "cjs"], dts: true, clean: true }];
  return [
    { ...common, entry, format: ["esm"], dts: true, clean: true },
    { ...common, entry, format: ["cjs"], dts: true, clean: false, noExternal: bundled },
  ];
}

/** Executables (CLIs): ESM only, never required. */
export function cliConfig(entry: Record<string, string>): Options {
  return { ...common, entry, format: ["esm"], clean: false, banner: { js: "#!/usr/bin/env node" } };
}

type PackageJson = { name?: string; type?: string; main?: string; exports?: unknown; dependencies?: Record<string, string> };

const readJson = (path: string): PackageJson => JSON.parse(readFileSync(path, "utf8")) as PackageJson;

/** The package.json of `name` as Node finds it from `fromDir` (node_modules lookup upwards; pnpm links resolved). */
function findPackageJson(name: string, fromDir: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name, "package.json");
    if (existsSync(candidate)) return realpathSync(candidate);
    if (dirname(dir) === dir) return undefined;
  }
}

/** Target of an `exports` value under the conditions `require()` uses (`require`, `node`, `default`), in key order. */
function requireTarget(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map(requireTarget).find((t) => t !== undefined);
  if (value === null || typeof value !== "object") return undefined;
  const entries = Object.entries(value);
  if (entries.some(([key]) => key.startsWith("."))) return requireTarget((value as Record<string, unknown>)["."]);
  for (const [condition, target] of entries) {
    if (condition === "require" || condition === "node" || condition === "default") {
      const found = requireTarget(target);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** Whether `require()` of the package's main entry needs require(esm): what it resolves to is an ES module, or nothing. */
function isEsmOnly(pkgJsonPath: string): boolean {
  const pkg = readJson(pkgJsonPath);
  const target = pkg.exports !== undefined ? requireTarget(pkg.exports) : (pkg.main ?? "index.js");
  if (target === undefined) return true;
  const ext = extname(target);
  if (ext === ".mjs") return true;
  if (ext === ".cjs" || ext === ".node" || ext === ".json") return false;
  // A .js file (or a main without extension) follows the nearest package.json's "type".
  const root = dirname(pkgJsonPath);
  let dir = dirname(join(root, target));
  while (dir !== root && dir.startsWith(root) && !existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return readJson(existsSync(join(dir, "package.json")) ? join(dir, "package.json") : pkgJsonPath).type === "module";
}

/**
 * The direct dependencies of the package in `packageDir` that `require()` cannot load on Node < 20.19 (ESM-only: no
 * `require` export condition, and an ES module where `require()` would land), to bundle into the CJS build. What they
 * import comes along (esbuild bundles everything that is not a dependency of ours). Fails the build when an ESM-only
 * package sits behind a dependency that stays external, because bundling it alone would not help.
 */
export function esmOnlyDependencies(packageDir: string): string[] {
  const root = realpathSync(packageDir);
  const deps = Object.keys(readJson(join(root, "package.json")).dependencies ?? {}).filter((d) => !d.startsWith("@infialign/"));
  const bundled: string[] = [];
  const external: Array<[string, string]> = [];
  for (const dep of deps) {
    const path = findPackageJson(dep, root);
    if (path === undefined) throw new Error(`[infialign/build] ${packageDir}: dependency "${dep}" is not installed; run pnpm install.`);
    if (isEsmOnly(path)) bundled.push(dep);
    else external.push([dep, path]);
  }
  const seen = new Set<string>();
  const walk = (path: string, chain: string[]): void => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const sub of Object.keys(readJson(path).dependencies ?? {})) {
      const subPath = findPackageJson(sub, dirname(path));
      if (subPath === undefined) continue;
      if (isEsmOnly(subPath)) {
        throw new Error(
          `[infialign/build] ${packageDir}: ${[...chain, sub].join(" > ")} is ESM-only and would be required by the external dependency "${chain[0]}" in the CJS build; add "${chain[0]}" to noExternal in tsup.config.base.ts.`,
        );
      }
      walk(subPath, [...chain, sub]);
    }
  };
  for (const [dep, path] of external) walk(path, [dep]);
  return bundled;
}
