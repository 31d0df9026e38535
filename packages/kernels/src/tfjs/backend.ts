// TensorFlow.js backend selection: native TensorFlow when installed, else wasm (SIMD, optionally multi-threaded), else
// the pure-JS cpu backend. Backend packages are optional peers, loaded with dynamic import() so that an absent one
// costs nothing and yields an "install X to use Y" error only when it is asked for.
import { createHash } from "node:crypto";
import { existsSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { installWasmKernels, uninstallWasmKernels, wasmKernelsInstalled } from "./wasm/kernels.js";

/** Backends in the order tried when nothing is asked for: fastest first. */
export const BACKEND_NAMES = ["tfjs-node-gpu", "tfjs-node", "wasm", "cpu"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BackendInfo {
  name: BackendName;
  /** What `tf.getBackend()` reports: "tensorflow" for both tfjs-node flavours, else "wasm" or "cpu". */
  tfBackend: string;
  /** Threads the backend computes with (wasm: what XNNPACK's thread pool actually got; cpu: 1). */
  threads: number;
  /** Whether the wasm build in use has SIMD; `undefined` for the other backends. */
  simd: boolean | undefined;
  /** Whether our wasm kernels (installWasmKernels) replace the stock ones; `undefined` for the other backends. */
  wasmKernels: boolean | undefined;
  /** Version of the backend package (tfjs-core's version when the package does not say). */
  version: string;
}

export interface SelectBackendOptions {
  /**
   * Backend(s) to use. One name: that backend or an error saying what to install. A list: the first installed one.
   * The `INFIALIGN_BACKEND` environment variable (a name or comma-separated names) takes precedence over this option.
   * @default ["tfjs-node-gpu", "tfjs-node", "wasm", "cpu"], skipping backends whose package is absent
   */
  prefer?: BackendName | BackendName[];
  /**
   * Threads for the wasm backend (at most 8). More than 1 loads the threaded SIMD build on worker_threads; where
   * SIMD or SharedArrayBuffer is missing it falls back to 1 thread and logs why. Ignored by other backends. The
   * default is 1 because XNNPACK's threads wait for each other at every operator: on a busy or small machine a
   * second thread did not help (bench/backend.ts, 2 shared vCPUs, load 5–6: 0.14–0.16× at n=256, 0.93–1.03× at n=1024).
   * @default 1
   */
  threads?: number;
  /**
   * Replace the wasm backend's `BatchMatMul`, `_FusedMatMul` and `Slice` with ours ({@link installWasmKernels}): equal
   * results, 7–16× faster transposed and batched products. Ignored by other backends.
   * @default true
   */
  wasmKernels?: boolean;
  /**
   * Receives one line per decision (what was skipped, what was chosen).
   * @default no logging
   */
  log?: (line: string) => void;
}

const PREFIX = "[infialign/kernels] backend:";
const ENV_VAR = "INFIALIGN_BACKEND";

const PACKAGES: Record<BackendName, string> = {
  "tfjs-node-gpu": "@tensorflow/tfjs-node-gpu",
  "tfjs-node": "@tensorflow/tfjs-node",
  wasm: "@tensorflow/tfjs-backend-wasm",
  cpu: "@tensorflow/tfjs-backend-cpu",
};

const TF_NAMES: Record<BackendName, string> = { "tfjs-node-gpu": "tensorflow", "tfjs-node": "tensorflow", wasm: "wasm", cpu: "cpu" };

/** Thrown for an explicitly requested backend whose package is not installed (message says which to install). */
function missing(name: BackendName): Error {
  return new Error(`${PREFIX} install ${PACKAGES[name]} to use the ${name} backend`);
}

function isBackendName(value: string): value is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(value);
}

/** Reads INFIALIGN_BACKEND; every name in it must be valid, else one error lists the bad ones and the valid names. */
function backendsFromEnv(): BackendName[] | undefined {
  const raw = process.env[ENV_VAR]?.trim();
  if (!raw) return undefined;
  const names = raw.split(",").map((s) => s.trim());
  const bad = names.filter((n) => !isBackendName(n));
  if (bad.length > 0) {
    throw new Error(`${PREFIX} ${ENV_VAR}="${raw}" names unknown backend(s) ${bad.map((b) => `"${b}"`).join(", ")}; valid names: ${BACKEND_NAMES.join(", ")}. Unset it to pick automatically.`);
  }
  return names as BackendName[];
}

// createRequire works from the ESM build, the CJS build (tsup shims import.meta.url) and from source in the monorepo.
const require = createRequire(import.meta.url);

function isModuleNotFound(error: unknown, pkg: string): boolean {
  const e = error as { code?: string; message?: string };
  return (e.code === "ERR_MODULE_NOT_FOUND" || e.code === "MODULE_NOT_FOUND") && (e.message ?? "").includes(pkg);
}

/** Packages found absent once; remembered so repeated selectBackend calls do not retry the failed import. */
const absent = new Set<BackendName>();

/**
 * Imports a backend package; `undefined` when it is absent (a present package that fails to load is an error).
 * Presence is decided by Node's resolver rather than by the import failing, because bundlers and test runners (Vite)
 * replace an unresolvable optional peer with a stub whose error carries no MODULE_NOT_FOUND code.
 */
async function load(name: BackendName): Promise<Record<string, unknown> | undefined> {
  if (absent.has(name)) return undefined;
  const pkg = PACKAGES[name];
  try {
    require.resolve(pkg);
  } catch (error) {
    if (isModuleNotFound(error, pkg)) {
      absent.add(name);
      return undefined;
    }
    throw error;
  }
  try {
    return (await import(pkg)) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`${PREFIX} ${pkg} is installed but failed to load; reinstall it or choose another backend with ${ENV_VAR}.`, { cause: error });
  }
}

function packageVersion(name: BackendName): string {
  try {
    return (require(`${PACKAGES[name]}/package.json`) as { version: string }).version;
  } catch {
    return tf.version_core;
  }
}

interface WasmModuleApi {
  setWasmPaths(prefix: string): void;
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
  BackendWasm: new (module: unknown) => tf.KernelBackend;
}

/** Emscripten module factory of the threaded build (wasm-out/*.js is CommonJS exporting the factory). */
type EmscriptenFactory = (config: Record<string, unknown>) => Promise<{ cwrap: (name: string, ret: string | null, args: string[]) => unknown } & Record<string, unknown>>;

interface State {
  key: string;
  info: BackendInfo;
}
let current: State | undefined;
type BackendFactory = () => tf.KernelBackend | Promise<tf.KernelBackend>;
/** The package's own wasm factory (single-threaded SIMD build), kept so a threaded run can be switched back. */
let stockWasmFactory: BackendFactory | undefined;
let workerScriptPath: string | undefined;

const WASM_PRIORITY = 2; // what @tensorflow/tfjs-backend-wasm registers with
// The threaded build pre-spawns 8 pthread workers (PTHREAD_POOL_SIZE) and backend.cc caps its pool at 8: a thread
// beyond the pool would be spawned asynchronously while the main thread blocks waiting for it.
const MAX_WASM_THREADS = 8;

/**
 * Builds the threaded SIMD wasm backend for Node. tfjs-backend-wasm 4.x never does this itself in Node: its
 * WASM_HAS_MULTITHREAD_SUPPORT flag returns false when IS_NODE (tensorflow/tfjs#3830), and its init() hands
 * Emscripten a Blob URL for the pthread worker and a Blob as main script, which Node's worker_threads cannot load.
 * The Emscripten output itself supports Node pthreads, so we give it real files: the worker source (shipped as a JS
 * string in wasm-out/*.worker.js) written once to a temp file, and the main script's path on disk.
 */
async function createThreadedWasmBackend(wasm: WasmModuleApi, pkgDir: string, threads: number): Promise<tf.KernelBackend> {
  if (workerScriptPath === undefined) {
    const { wasmWorkerContents } = require(join(pkgDir, "wasm-out", "tfjs-backend-wasm-threaded-simd.worker.js")) as { wasmWorkerContents: string };
    // The source was pasted into a template literal, which turned its "\n" escapes into real newlines (tfjs undoes
    // the same thing before making its Blob).
    const source = wasmWorkerContents.replace(/\n/g, "\\n");
    // Named by content so processes share one file instead of leaving one per run; written via rename so a process
    // starting at the same moment never loads a half-written file.
    const path = join(tmpdir(), `infialign-tfjs-wasm-${createHash("sha256").update(source).digest("hex").slice(0, 16)}.worker.js`);
    if (!existsSync(path)) {
      const partial = `${path}.${process.pid}.tmp`;
      writeFileSync(partial, source);
      renameSync(partial, path);
    }
    workerScriptPath = path;
  }
  const workerPath = workerScriptPath;
  const mainScript = join(pkgDir, "wasm-out", "tfjs-backend-wasm-threaded-simd.js");
  const imported = require(mainScript) as EmscriptenFactory | { default: EmscriptenFactory };
  const factory = typeof imported === "function" ? imported : imported.default;
  // backend.cc sizes XNNPACK's pool as min(requested, 8, logicalCores / 2) — the halving assumes two hyperthreads per
  // core — and reads the core count once, in a static initialiser, through emscripten_num_logical_cores(), which in
  // Node is require("os").cpus().length. On a 2-vCPU machine that caps every request at 1 thread. We report
  // 2 × threads cores for exactly the synchronous span that runs the initialisers (preRun → onRuntimeInitialized).
  const os = require("node:os") as { cpus: () => unknown[] };
  const realCpus = os.cpus;
  const restoreCpus = () => {
    os.cpus = realCpus;
  };
  let module: Awaited<ReturnType<EmscriptenFactory>>;
  try {
    module = await factory({
      locateFile: (path: string) => (path.endsWith(".worker.js") ? workerPath : path.endsWith(".wasm") ? join(pkgDir, "dist", "tfjs-backend-wasm-threaded-simd.wasm") : path),
      mainScriptUrlOrBlob: mainScript,
      preRun: [
        () => {
          os.cpus = () => Array.from({ length: 2 * threads }, () => realCpus()[0]);
        },
      ],
      onRuntimeInitialized: restoreCpus,
    });
  } finally {
    restoreCpus();
  }
  // The bridge BackendWasm expects; same C entry points as tfjs-backend-wasm's init() wraps.
  module.tfjs = {
    init: module.cwrap("init", null, []),
    initWithThreadsCount: module.cwrap("init_with_threads_count", null, ["number"]),
    getThreadsCount: module.cwrap("get_threads_count", "number", []),
    registerTensor: module.cwrap("register_tensor", null, ["number", "number", "number"]),
    disposeData: module.cwrap("dispose_data", null, ["number"]),
    dispose: module.cwrap("dispose", null, []),
  };
  const backend = new wasm.BackendWasm(module);
  // XNNPACK's pool threads (started by the constructor above) never exit, and Emscripten ref()s a worker while it runs
  // a pthread, so without this a script that is done would never end.
  const pthreads = module.PThread as { runningWorkers: { unref(): void }[] } | undefined;
  for (const worker of pthreads?.runningWorkers ?? []) worker.unref();
  return backend;
}

/** Whether this Node can run the threaded build; the reason when it cannot. */
async function threadedUnsupported(): Promise<string | undefined> {
  if (!(await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"))) return "no WebAssembly SIMD (the only threaded build is threaded-simd)";
  if (typeof SharedArrayBuffer === "undefined") return "no SharedArrayBuffer";
  try {
    require("node:worker_threads");
  } catch {
    return "no worker_threads";
  }
  return undefined;
}

async function activateWasm(wasm: WasmModuleApi, requestedThreads: number, log: (line: string) => void): Promise<{ threads: number; simd: boolean }> {
  const pkgDir = dirname(require.resolve(`${PACKAGES.wasm}/package.json`));
  stockWasmFactory ??= (tf.findBackendFactory("wasm") as BackendFactory | null) ?? undefined;
  let threads = requestedThreads;
  if (threads > MAX_WASM_THREADS) {
    log(`${PREFIX} wasm: ${threads} threads requested; the threaded build pre-spawns ${MAX_WASM_THREADS} workers, using ${MAX_WASM_THREADS}`);
    threads = MAX_WASM_THREADS;
  }
  const why = threads > 1 ? await threadedUnsupported() : undefined;
  if (why !== undefined) {
    log(`${PREFIX} wasm: ${threads} threads requested but ${why}; using 1 thread`);
    threads = 1;
  }
  // A wasm backend instance keeps its thread pool for life, so a different thread count needs a fresh instance.
  if (tf.findBackendFactory("wasm") !== null) tf.removeBackend("wasm");
  if (threads > 1) {
    wasm.setThreadsCount(threads);
    tf.registerBackend("wasm", () => createThreadedWasmBackend(wasm, pkgDir, threads), WASM_PRIORITY);
  } else {
    // Node resolves these as file paths; the trailing separator matters (tfjs concatenates prefix + file name).
    wasm.setWasmPaths(`${join(pkgDir, "dist")}/`);
    wasm.setThreadsCount(1);
    if (stockWasmFactory === undefined) throw new Error(`${PREFIX} ${PACKAGES.wasm} did not register a "wasm" backend; check that only one copy of @tensorflow/tfjs-core is installed.`);
    tf.registerBackend("wasm", stockWasmFactory, WASM_PRIORITY);
  }
  if (!(await tf.setBackend("wasm"))) throw new Error(`${PREFIX} the wasm backend failed to initialise (see the warning above); try INFIALIGN_BACKEND=cpu.`);
  await tf.ready();
  const simd = Boolean(await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"));
  return { threads: wasm.getThreadsCount(), simd };
}

/**
 * Selects and initialises a TensorFlow.js backend, then returns what is running. Calling it again with the same
 * choice returns the cached result without touching tfjs. Switching backends invalidates tensors of the old one.
 */
export async function selectBackend(options: SelectBackendOptions = {}): Promise<BackendInfo> {
  const log = options.log ?? (() => {});
  const fromEnv = backendsFromEnv();
  if (fromEnv !== undefined && options.prefer !== undefined) log(`${PREFIX} ${ENV_VAR}=${fromEnv.join(",")} overrides prefer=${String(options.prefer)}`);
  const asked = fromEnv ?? (options.prefer === undefined ? undefined : Array.isArray(options.prefer) ? options.prefer : [options.prefer]);
  for (const name of asked ?? []) if (!isBackendName(name)) throw new Error(`${PREFIX} prefer: unknown backend "${name}"; valid names: ${BACKEND_NAMES.join(", ")}.`);
  const candidates = asked ?? [...BACKEND_NAMES];
  const threads = options.threads ?? 1;
  const wasmKernels = options.wasmKernels ?? true;
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`${PREFIX} threads must be a positive integer (got ${threads}).`);

  for (const name of candidates) {
    const key = `${name}:${name === "wasm" ? `${threads}:${wasmKernels}` : 1}`;
    if (current?.key === key && tf.getBackend() === TF_NAMES[name]) return current.info;
    const mod = await load(name);
    if (mod === undefined) {
      if (asked?.length === 1) throw missing(name);
      log(`${PREFIX} skipping ${name}: ${PACKAGES[name]} is not installed`);
      continue;
    }
    let info: BackendInfo;
    if (name === "wasm") {
      const { threads: used, simd } = await activateWasm(mod as unknown as WasmModuleApi, threads, log);
      if (wasmKernels) installWasmKernels();
      else uninstallWasmKernels();
      info = { name, tfBackend: tf.getBackend(), threads: used, simd, wasmKernels, version: packageVersion(name) };
    } else {
      if (!(await tf.setBackend(TF_NAMES[name]))) throw new Error(`${PREFIX} the ${name} backend failed to initialise; try INFIALIGN_BACKEND=wasm.`);
      await tf.ready();
      // Native TensorFlow sizes its intra-op pool to the cores; the cpu backend is single-threaded JS.
      info = { name, tfBackend: tf.getBackend(), threads: name === "cpu" ? 1 : availableParallelism(), simd: undefined, wasmKernels: undefined, version: packageVersion(name) };
    }
    current = { key, info };
    log(`${PREFIX} using ${name} (${PACKAGES[name]} ${info.version}, ${info.threads} thread${info.threads === 1 ? "" : "s"}${info.simd === undefined ? "" : info.simd ? ", SIMD" : ", no SIMD"})`);
    return info;
  }
  const names = candidates.join(", ");
  throw new Error(`${PREFIX} none of ${names} is installed; install ${PACKAGES[candidates[0] as BackendName]} to use the ${candidates[0]} backend.`);
}

/** The running backend as selectBackend last set it up, or as far as tfjs can tell when it was set some other way. */
export function describeBackend(): BackendInfo {
  const tfBackend = tf.getBackend();
  if (current !== undefined && current.info.tfBackend === tfBackend) return current.info;
  if (tfBackend === undefined || tfBackend === null) throw new Error(`${PREFIX} no TensorFlow.js backend is active; call selectBackend() first.`);
  const name: BackendName = tfBackend === "tensorflow" ? "tfjs-node" : tfBackend === "wasm" ? "wasm" : "cpu";
  if (name === "wasm") {
    // Ask the live module: a separately required copy of the package would have its own, uninitialised counters.
    const live = tf.backend() as unknown as { wasm: { tfjs: { getThreadsCount(): number } } };
    return { name, tfBackend, threads: live.wasm.tfjs.getThreadsCount(), simd: tf.env().getBool("WASM_HAS_SIMD_SUPPORT"), wasmKernels: wasmKernelsInstalled(), version: packageVersion(name) };
  }
  return { name, tfBackend, threads: name === "cpu" ? 1 : availableParallelism(), simd: undefined, wasmKernels: undefined, version: packageVersion(name) };
}

/**
 * GFLOP/s of a square float32 matmul on the current backend: 2·n³ flops per product, after one warm-up product,
 * timed over `repeats` products each read back (so asynchronous backends are timed to completion).
 */
export async function measureMatmulGflops(size = 512, repeats = 10): Promise<number> {
  if (!Number.isInteger(size) || size < 1 || !Number.isInteger(repeats) || repeats < 1) {
    throw new Error(`${PREFIX} measureMatmulGflops: size and repeats must be positive integers (got ${size}, ${repeats}).`);
  }
  const a = tf.randomUniform([size, size], -1, 1, "float32", 1);
  const b = tf.randomUniform([size, size], -1, 1, "float32", 2);
  try {
    const warm = tf.matMul(a, b);
    await warm.data();
    warm.dispose();
    const t0 = performance.now();
    for (let r = 0; r < repeats; r++) {
      const c = tf.matMul(a, b);
      await c.data();
      c.dispose();
    }
    const seconds = (performance.now() - t0) / 1000;
    return (2 * size ** 3 * repeats) / seconds / 1e9;
  } finally {
    a.dispose();
    b.dispose();
  }
}
