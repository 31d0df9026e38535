import { availableParallelism } from "node:os";
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads";
import type { AssignmentBuffers, Assignments } from "./assignNearest.js";
import { gemmNT } from "./gemm.js";
import { checkOut, rowCount } from "./shape.js";

/** Rows per scoring block; must equal the block size of assignRange so splits at multiples of it are bit-identical. */
const BLOCK_ROWS = 64;
/** Rows per parallel round (all threads together): bounds the shared staging buffers to CHUNK_ROWS × dim floats. */
const CHUNK_ROWS = 32_768;
/** Worker start-up handshake limit; past it the pool falls back to the calling thread only. */
const READY_TIMEOUT_MS = 10_000;

/**
 * Nearest centroid (largest dot product, ties → lowest index) of rows [r0, r0 + n) of `rows`, written at `outOff`,
 * scored in 64-row blocks with `gemm` (pass `gemmNT`). It refers to nothing outside itself — the kernel comes in as an
 * argument, since test runners rewrite imported bindings — because the worker threads run both from their source text.
 */
export function assignRange(
  rows: Float32Array,
  r0: number,
  n: number,
  centroids: Float32Array,
  k: number,
  dim: number,
  assignments: Int32Array,
  scores: Float32Array,
  outOff: number,
  block: Float32Array,
  gemm: typeof gemmNT,
): void {
  for (let b0 = 0; b0 < n; b0 += 64) {
    const m = Math.min(64, n - b0);
    gemm(rows, r0 + b0, m, centroids, 0, k, dim, block, 0, k);
    for (let i = 0; i < m; i++) {
      const o = i * k;
      let best = 0;
      let bestScore = block[o]!;
      for (let j = 1; j < k; j++) {
        const s = block[o + j]!;
        if (s > bestScore) {
          bestScore = s;
          best = j;
        }
      }
      assignments[outOff + b0 + i] = best;
      scores[outOff + b0 + i] = bestScore;
    }
  }
}

/** A task for one worker: rows [r0, r0 + n) of the staging buffer, results at the same offsets of the shared outputs. */
interface Task {
  rows: SharedArrayBuffer;
  cents: SharedArrayBuffer;
  assign: SharedArrayBuffer;
  scores: SharedArrayBuffer;
  r0: number;
  n: number;
  k: number;
  dim: number;
}

// Worker script, run with `eval: true`: built from gemmNT's and assignRange's own source text so the same code runs from the TS
// sources (tsx/vitest) and from the ESM and CJS bundles, with no separate worker file to locate at run time.
// `__name` is a no-op stand-in for the helper esbuild's keepNames (tsx) may wrap around the inner function. Dynamic
// import() because the script is CJS or ESM depending on the parent's flags (e.g. --input-type=module).
const workerSource = (): string => `"use strict";
const __name = (f) => f;
const gemmNT = ${gemmNT.toString()};
const assignRange = ${assignRange.toString()};
import("node:worker_threads").then(({ workerData }) => {
const { ctrl, port } = workerData;
const flag = new Int32Array(ctrl);
let block = new Float32Array(0);
port.on("message", (t) => {
  Atomics.load(flag, 0); // pairs with the caller's Atomics.store: staged rows and centroids are visible
  try {
    if (block.length < 64 * t.k) block = new Float32Array(64 * t.k);
    assignRange(new Float32Array(t.rows), t.r0, t.n, new Float32Array(t.cents), t.k, t.dim, new Int32Array(t.assign), new Float32Array(t.scores), t.r0, block, gemmNT);
    Atomics.store(flag, 0, 1);
  } catch (e) {
    port.postMessage(String(e && e.stack || e));
    Atomics.store(flag, 0, 2);
  }
  Atomics.notify(flag, 0);
});
// Self-test before reporting ready (1): source transforms such as coverage instrumentation can leave references
// this script cannot resolve; the caller then falls back to one thread (2) instead of failing on the first task.
let ok = 1;
try {
  assignRange(new Float32Array(8), 0, 2, new Float32Array(4), 1, 4, new Int32Array(2), new Float32Array(2), 0, new Float32Array(64), gemmNT);
} catch {
  ok = 2;
}
Atomics.store(flag, 1, ok);
Atomics.notify(flag, 1);
});
`;

/** Synchronous multi-threaded {@link assignNearest}: the calling thread plus `threads − 1` worker threads. */
export interface AssignPool {
  /** Threads in use including the caller: the requested count, or 1 when the workers could not start. */
  readonly threads: number;
  /** Same contract and bit-identical results as assignNearest; blocks the calling thread until all parts are done. */
  assign(
    rows: Float32Array,
    centroids: Float32Array,
    dim: number,
    out?: AssignmentBuffers,
  ): Assignments;
  /** Terminates the workers (also done on process exit); later `assign` calls run on the calling thread only. */
  close(): void;
}

interface WorkerSlot {
  worker: Worker;
  port: MessagePort;
  flag: Int32Array;
}

/** "auto" → min(2, os.availableParallelism()); otherwise a positive integer. */
export function resolveThreads(threads: number | "auto"): number {
  if (threads === "auto") return Math.max(1, Math.min(2, availableParallelism()));
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(`[infialign/kernels] parallel-assign: threads must be a positive integer or "auto", got ${threads}`);
  }
  return threads;
}

/**
 * Starts `threads − 1` worker threads (unref'd: they never keep the process alive) for {@link AssignPool.assign}. The
 * caller blocks with `Atomics.wait`, so this is for Node's main thread or workers, not browsers' main thread.
 */
export function createAssignPool(threads: number | "auto" = "auto"): AssignPool {
  const requested = resolveThreads(threads);
  let slots: WorkerSlot[] = [];
  if (requested > 1) {
    const source = workerSource();
    for (let w = 0; w < requested - 1; w++) {
      const slot = startWorker(source);
      if (!slot) break;
      slots.push(slot);
    }
    if (slots.length < requested - 1) {
      for (const s of slots) void s.worker.terminate();
      slots = [];
    }
  }
  let rowsBuf = new SharedArrayBuffer(0);
  let centsBuf = new SharedArrayBuffer(0);
  let assignBuf = new SharedArrayBuffer(0);
  let scoresBuf = new SharedArrayBuffer(0);
  let block = new Float32Array(0);
  const close = (): void => {
    process.off("exit", close);
    for (const s of slots) {
      s.port.close();
      void s.worker.terminate();
    }
    slots = [];
  };
  if (slots.length > 0) process.once("exit", close);

  const assign: AssignPool["assign"] = (rows, centroids, dim, out) => {
    const n = rowCount(rows, dim, "parallel-assign", "rows");
    const k = rowCount(centroids, dim, "parallel-assign", "centroids");
    if (k === 0) throw new Error("[infialign/kernels] parallel-assign: centroids is empty; pass at least one centroid");
    const assignments = out?.assignments ?? new Int32Array(n);
    const scores = out?.scores ?? new Float32Array(n);
    checkOut(assignments, n, "parallel-assign", "out.assignments");
    checkOut(scores, n, "parallel-assign", "out.scores");
    if (block.length < BLOCK_ROWS * k) block = new Float32Array(BLOCK_ROWS * k);
    const parts = slots.length + 1;
    // Fewer than one block per thread: not worth a round trip.
    if (parts === 1 || n < parts * BLOCK_ROWS) {
      assignRange(rows, 0, n, centroids, k, dim, assignments, scores, 0, block, gemmNT);
      return { assignments, scores };
    }
    const chunk = Math.min(n, CHUNK_ROWS);
    if (centsBuf.byteLength < centroids.byteLength) centsBuf = new SharedArrayBuffer(centroids.byteLength);
    new Float32Array(centsBuf, 0, centroids.length).set(centroids);
    if (rowsBuf.byteLength < chunk * dim * 4) rowsBuf = new SharedArrayBuffer(chunk * dim * 4);
    if (assignBuf.byteLength < chunk * 4) {
      assignBuf = new SharedArrayBuffer(chunk * 4);
      scoresBuf = new SharedArrayBuffer(chunk * 4);
    }
    const stageRows = new Float32Array(rowsBuf);
    const stageAssign = new Int32Array(assignBuf);
    const stageScores = new Float32Array(scoresBuf);
    for (let c0 = 0; c0 < n; c0 += chunk) {
      const len = Math.min(chunk, n - c0);
      // Part boundaries on multiples of BLOCK_ROWS from the call's first row keep the block layout of one thread.
      const per = Math.ceil(len / parts / BLOCK_ROWS) * BLOCK_ROWS;
      const mine = Math.min(len, per);
      const posted: WorkerSlot[] = [];
      for (let w = 0; w < slots.length; w++) {
        const s0 = mine + w * per;
        const s1 = Math.min(len, s0 + per);
        if (s0 >= s1) break;
        stageRows.set(rows.subarray((c0 + s0) * dim, (c0 + s1) * dim), s0 * dim);
        const slot = slots[w]!;
        Atomics.store(slot.flag, 0, 0);
        const task: Task = { rows: rowsBuf, cents: centsBuf, assign: assignBuf, scores: scoresBuf, r0: s0, n: s1 - s0, k, dim };
        slot.port.postMessage(task);
        posted.push(slot);
      }
      assignRange(rows, c0, mine, centroids, k, dim, assignments, scores, c0, block, gemmNT);
      for (const slot of posted) {
        while (Atomics.load(slot.flag, 0) === 0) Atomics.wait(slot.flag, 0, 0);
        if (Atomics.load(slot.flag, 0) === 2) {
          const reason = receiveMessageOnPort(slot.port)?.message;
          // Other workers may still write to the staging buffers: end them all rather than reuse the pool.
          close();
          throw new Error(`[infialign/kernels] parallel-assign: worker failed: ${String(reason)}`);
        }
      }
      if (len > mine) {
        assignments.set(stageAssign.subarray(mine, len), c0 + mine);
        scores.set(stageScores.subarray(mine, len), c0 + mine);
      }
    }
    return { assignments, scores };
  };

  return {
    get threads() {
      return slots.length + 1;
    },
    assign,
    close,
  };
}

function startWorker(source: string): WorkerSlot | undefined {
  const ctrl = new SharedArrayBuffer(8);
  const flag = new Int32Array(ctrl);
  const { port1, port2 } = new MessageChannel();
  let worker: Worker;
  try {
    // No inherited execArgv: loaders such as `--import tsx` are not needed by the plain-JS script and slow its start.
    worker = new Worker(source, { eval: true, execArgv: [], workerData: { ctrl, port: port2 }, transferList: [port2] });
  } catch {
    return undefined;
  }
  // Without a listener a failing worker would crash the process via an unhandled 'error' event.
  worker.on("error", () => undefined);
  worker.unref();
  port1.unref();
  // Synchronous handshake: the worker sets flag[1] once its message handler is installed and its self-test passed.
  Atomics.wait(flag, 1, 0, READY_TIMEOUT_MS);
  if (Atomics.load(flag, 1) !== 1) {
    void worker.terminate();
    return undefined;
  }
  return { worker, port: port1, flag };
}

const shared = new Map<number, AssignPool>();

/**
 * Process-wide pool for `threads` (created on first use and kept for later calls; its workers are unref'd and end with
 * the process).
 */
export function getAssignPool(threads: number | "auto" = "auto"): AssignPool {
  const t = resolveThreads(threads);
  let pool = shared.get(t);
  if (!pool) {
    pool = createAssignPool(t);
    shared.set(t, pool);
  }
  return pool;
}
